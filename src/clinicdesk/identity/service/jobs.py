"""The organization's background jobs, as its administrators see them: dead letters and
recent work, and retrying a dead job (audited)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.jobs import JobStatus
from clinicdesk.core.jobs import admin as jobs
from clinicdesk.core.jobs.admin import JobPage, JobRead


async def list_jobs(
    session: AsyncSession, *, status: JobStatus | None, cursor: str | None, limit: int
) -> JobPage:
    """The organization's jobs, newest first (system jobs are not the tenant's)."""
    return await jobs.list_jobs(session, status=status, cursor=cursor, limit=limit)


async def retry_job(session: AsyncSession, *, actor: Actor, job_id: uuid.UUID) -> JobRead:
    """Put a dead job back in the queue with fresh attempts. Only dead jobs; another
    organization's job is not found."""
    job = await jobs.retry(session, job_id=job_id)
    await audit.record(
        session,
        action="job.retried",
        actor=actor,
        organization_id=job.organization_id,
        resource_type="job",
        resource_id=job.id,
        details={"kind": job.kind},
    )
    return JobRead.model_validate(job)
