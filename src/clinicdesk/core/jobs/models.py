"""The outbox and the schedule leases.

``jobs`` holds one row per job, written in the transaction of the change that asks for
it (``enqueue``): a job exists if and only if that change committed. A row moves
``queued -> running -> succeeded``, or back to ``queued`` with a later ``run_at`` after a
failure, or to ``dead`` after its last attempt. ``locked_by`` / ``locked_until`` are the
lease of the worker running it: a worker that dies leaves a lease that expires, and the
job is taken again.

``organization_id`` is the tenant the job works for (NULL for system jobs such as the
purge). Tenant sessions see only their own jobs (central scoping; row-level security on
PostgreSQL); workers claim across tenants through the system scope, the one explicit
system path, and run each handler scoped to the job's organization.

``payload`` is encrypted with the field key (``EncryptedText``): mail bodies carry
one-time sign-in links and patient data. ``last_error`` is written for an administrator
and never holds the payload.

``job_schedules`` has one row per periodic schedule: ``next_run_at`` advances with a
conditional UPDATE, so each due run is enqueued by exactly one process.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.crypto import EncryptedText
from clinicdesk.core.models import Base, IdMixin, utcnow
from clinicdesk.core.tenancy import TenantScoped

ERROR_MAX_LENGTH = 500


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
ACTIVE_SQL = "status IN ('queued', 'running')"


class Job(Base, IdMixin, TenantScoped):
    __tablename__ = "jobs"
    # System jobs belong to no organization; tenant sessions still only see their own.
    __tenant_optional__ = True

    organization_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(EncryptedText())
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        # The claim: due queued jobs in order, and running ones whose lease ran out.
        Index("ix_jobs_status_run_at", "status", "run_at"),
        # One active job per dedupe key (a periodic run, "mail this once").
        Index(
            "ux_jobs_active_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
    )


class JobSchedule(Base):
    """The lease of one periodic schedule: who enqueued its last run, and when the next
    one is due."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)


class JobLease(Base):
    """A named lease held by one process until ``expires_at`` unless renewed (on SQLite,
    the right to run jobs at all: one runner per database file)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]
