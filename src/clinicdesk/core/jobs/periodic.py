"""Periodic jobs and leases: each due run is enqueued by exactly one process.

Every runner ticks the schedules. For each schedule, in one short transaction:

1. on PostgreSQL, ``pg_try_advisory_xact_lock`` on the schedule's key: a process that
   does not get it skips the schedule (another one is ticking it right now);
2. a conditional UPDATE moves the schedule's ``next_run_at`` forward only if it is due
   (``WHERE next_run_at <= now``). Two processes cannot both see it due: on PostgreSQL
   the second UPDATE waits for the first's row lock and re-checks the condition, on
   SQLite the write lock taken at BEGIN orders the transactions;
3. the process whose UPDATE changed the row enqueues the run, in the same transaction,
   with the schedule's name as dedupe key: while an earlier run is still queued or
   running, none is added, so a schedule's job runs in one process at a time.

The run itself is an ordinary job (retries, dead letters, at-least-once).

``hold_lease`` is a named lease row (upsert taken only when free or expired), used on
SQLite so that one process per database runs jobs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.jobs.enqueue import enqueue, upsert
from clinicdesk.core.jobs.models import JobLease, JobSchedule
from clinicdesk.core.jobs.registry import Schedule
from clinicdesk.core.models import utcnow

log = structlog.get_logger(__name__)


async def enqueue_if_due(
    session: AsyncSession, schedule: Schedule, *, holder: str, now: datetime | None = None
) -> bool:
    """In the caller's transaction (system scope): enqueue the schedule's run if it is due
    and no other process enqueued it. True when this call enqueued it."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(select(func.pg_try_advisory_xact_lock(schedule.lock_key)))
        if not locked:
            return False
    insert = upsert(session)(JobSchedule).values(
        name=schedule.name, next_run_at=schedule.next_due_after(now)
    )
    await session.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
    won = await session.scalar(
        update(JobSchedule)
        .where(JobSchedule.name == schedule.name, JobSchedule.next_run_at <= now)
        .values(next_run_at=schedule.next_due_after(now), last_run_at=now, locked_by=holder)
        .returning(JobSchedule.last_run_at)
    )
    if won is None:  # not due, or another process took this period
        return False
    # The run's due time names its period (a handler sees it as ``context.run_at``).
    period = schedule.next_due_after(now) - schedule.every
    enqueued = await enqueue(
        session,
        schedule.kind,
        schedule.payload,
        run_at=period,
        dedupe_key=f"schedule:{schedule.name}",
    )
    log.info("jobs.schedule_due", schedule=schedule.name, enqueued=enqueued is not None)
    return True


async def hold_lease(
    session: AsyncSession, name: str, *, holder: str, ttl: timedelta, now: datetime | None = None
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while
    another holder's lease has not expired."""
    now = now or utcnow()
    insert = upsert(session)(JobLease).values(name=name, holder=holder, expires_at=now + ttl)
    statement = insert.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": now + ttl},
        where=or_(JobLease.holder == holder, JobLease.expires_at < now),
    ).returning(JobLease.holder)
    return (await session.scalar(statement)) == holder


async def release_lease(session: AsyncSession, name: str, *, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process need not wait."""
    await session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
