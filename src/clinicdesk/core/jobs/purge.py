"""The jobs table's own housekeeping: a periodic job that deletes finished jobs.

Succeeded jobs are kept ``succeeded_days`` (their payload is already wiped), dead ones
``dead_days`` (an administrator may still want to retry them). Idempotent: a second run
deletes nothing more.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import and_, delete, or_, text

from clinicdesk.core.jobs.models import Job, JobStatus
from clinicdesk.core.jobs.registry import JobContext, JobKind, JobRegistry, Schedule
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import use_system_scope

log = structlog.get_logger(__name__)


class PurgePayload(BaseModel):
    succeeded_days: int = Field(ge=0)
    dead_days: int = Field(ge=0)


PURGE = JobKind("jobs.purge", PurgePayload, max_attempts=3)


async def purge_finished_jobs(context: JobContext, payload: PurgePayload) -> None:
    session = context.session
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # Every organization's finished jobs, which the server's role cannot see: the
        # owner's function deletes them (and does nothing else).
        purged = await session.scalar(
            text("SELECT clinicdesk_purge_finished_jobs(:succeeded, :dead)"),
            {
                "succeeded": now - timedelta(days=payload.succeeded_days),
                "dead": now - timedelta(days=payload.dead_days),
            },
        )
        log.info("jobs.purged", deleted=purged)
        return
    await use_system_scope(session)  # a system job: every organization's finished jobs
    result = await session.execute(
        delete(Job)
        .where(
            or_(
                and_(
                    Job.status == JobStatus.SUCCEEDED,
                    Job.finished_at < now - timedelta(days=payload.succeeded_days),
                ),
                and_(
                    Job.status == JobStatus.DEAD,
                    Job.finished_at < now - timedelta(days=payload.dead_days),
                ),
            )
        )
        .execution_options(synchronize_session=False)
    )
    log.info("jobs.purged", deleted=getattr(result, "rowcount", None))


def register_housekeeping(registry: JobRegistry, *, succeeded_days: int, dead_days: int) -> None:
    """The purge, hourly."""
    registry.register(PURGE, purge_finished_jobs)
    registry.schedule(
        Schedule(
            name="jobs.purge",
            kind=PURGE,
            payload=PurgePayload(succeeded_days=succeeded_days, dead_days=dead_days),
            every=timedelta(hours=1),
            offset=timedelta(minutes=7),
        )
    )
