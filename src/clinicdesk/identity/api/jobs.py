"""JSON API of the organization's background jobs: list (dead letters with
``?status=dead``) and retry. Admins only (``admin:settings``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from clinicdesk.core.jobs import JobStatus
from clinicdesk.core.jobs.admin import JobPage, JobRead
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.identity.service import jobs

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.get("/jobs", response_model=JobPage, summary="Background jobs, newest first")
async def list_jobs(
    actor: AdminSettings,
    session: SessionDep,
    status: JobStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> JobPage:
    """The organization's jobs (mail and other work done after a change commits); a
    failed job that used up its attempts is ``dead`` until someone retries it."""
    return await jobs.list_jobs(session, status=status, cursor=cursor, limit=limit)


@router.post("/jobs/{job_id}/retry", response_model=JobRead, summary="Retry a dead job")
async def retry_job(job_id: uuid.UUID, actor: AdminSettings, session: SessionDep) -> JobRead:
    """Queue a dead job again with fresh attempts (409 when it is not dead)."""
    return await jobs.retry_job(session, actor=actor, job_id=job_id)
