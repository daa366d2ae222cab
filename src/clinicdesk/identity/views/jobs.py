"""The administrators' page of background jobs: what failed for good (with a Retry
button) and what ran recently."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.jobs import JobStatus
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.identity.service import jobs

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/admin/jobs", response_class=HTMLResponse)
async def jobs_page(
    request: Request, actor: AdminSettings, session: SessionDep, cursor: str | None = None
) -> HTMLResponse:
    dead = await jobs.list_jobs(session, status=JobStatus.DEAD, cursor=None, limit=PAGE_SIZE)
    recent = await jobs.list_jobs(session, status=None, cursor=cursor, limit=PAGE_SIZE)
    return render(request, "identity/admin_jobs.html", {"dead": dead, "recent": recent})


@router.post("/admin/jobs/{job_id}/retry")
async def retry(
    request: Request, job_id: uuid.UUID, actor: AdminSettings, session: SessionDep
) -> RedirectResponse:
    response = redirect("/admin/jobs")
    try:
        async with all_or_nothing(session):
            job = await jobs.retry_job(session, actor=actor, job_id=job_id)
    except NotFound:
        raise  # another organization's job, or none: the 404 page
    except ClinicError as error:
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, f"The {job.kind} job is queued again.")
    return response
