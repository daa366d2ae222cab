"""Looking at jobs and retrying dead ones, in the caller's (tenant) session.

An organization's administrators see their organization's jobs only (the central
scoping and, on PostgreSQL, row-level security); system jobs belong to no organization.
The payload is never shown: it may hold sign-in links and patient data. Whoever calls
``retry`` records it in the audit trail (``core`` knows no audit).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import on_commit
from clinicdesk.core.errors import Conflict, NotFound
from clinicdesk.core.jobs.enqueue import wake_local_runners
from clinicdesk.core.jobs.models import ACTIVE, Job, JobStatus
from clinicdesk.core.models import utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None


class JobPage(BaseModel):
    items: list[JobRead]
    next_cursor: str | None


class JobNotDead(Conflict):
    code = "job-not-dead"


async def list_jobs(
    session: AsyncSession, *, status: JobStatus | None, cursor: str | None, limit: int
) -> JobPage:
    """Newest first; dead ones among them when ``status`` is None."""
    offset = decode_cursor(cursor)
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
    if status is not None:
        query = query.where(Job.status == status)
    rows = list((await session.scalars(query.offset(offset).limit(limit + 1))).all())
    return JobPage(
        items=[JobRead.model_validate(job) for job in rows[:limit]],
        next_cursor=encode_cursor(offset + limit) if len(rows) > limit else None,
    )


async def retry(session: AsyncSession, *, job_id: uuid.UUID) -> Job:
    """A dead job goes back to the queue, due now, with a fresh set of attempts (its
    last error stays until the next attempt). Only dead jobs can be retried."""
    job = await session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound("There is no such job.")
    if job.status != JobStatus.DEAD:
        raise JobNotDead(f"Only failed (dead) jobs can be retried; this one is {job.status}.")
    if job.dedupe_key is not None and await session.scalar(
        select(Job.id).where(Job.dedupe_key == job.dedupe_key, Job.status.in_(ACTIVE))
    ):
        raise JobNotDead("A newer run of this job is already queued or running.")
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    await session.flush()
    on_commit(session, wake_local_runners)
    return job
