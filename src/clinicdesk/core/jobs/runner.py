"""The runner: claims due jobs, runs their handlers, retries, buries, and stops cleanly.

A job runs in three short transactions, so no lock is held while a handler works:

1. **claim** (across tenants): the oldest due job, queued with ``run_at`` passed or
   running with an expired lease (its worker died), is marked running, ``attempts + 1``,
   leased to this worker until ``now + lease``. On PostgreSQL the row is picked
   ``FOR UPDATE SKIP LOCKED``, so any number of workers claim side by side and never the
   same job; the server's role cannot see other organizations' jobs, so the pick is the
   ``clinicdesk_next_due_job`` function (it names the job and its organization, and the
   claim goes on inside that organization). On SQLite the write lock taken at BEGIN
   IMMEDIATE orders claims.
2. **run**: the handler's own unit of work, scoped to the job's organization. While it
   runs, a heartbeat renews the lease.
3. **finish** (only while this worker still holds the lease): succeeded (the payload,
   which may hold secrets, is wiped), or queued again after an exponential backoff with
   jitter, or dead after ``max_attempts``. An administrator can retry a dead job.

On SQLite one process per database runs jobs (it holds the ``runner`` lease; the others
stand by and take over when it stops or its lease lapses): SQLite has one writer anyway.

``stop(grace)`` stops claiming, gives a running job ``grace`` seconds to finish, then
cancels it and puts it back in the queue without counting the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import SQLITE_BEGIN_DEFERRED, Database, session_scope
from clinicdesk.core.dbfaults import describe, is_database_fault
from clinicdesk.core.jobs.enqueue import add_waker, remove_waker
from clinicdesk.core.jobs.models import ERROR_MAX_LENGTH, Job, JobStatus
from clinicdesk.core.jobs.periodic import enqueue_if_due, hold_lease, release_lease
from clinicdesk.core.jobs.registry import JobContext, JobRegistry, UnknownJobKind
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope

log = structlog.get_logger(__name__)

RUNNER_LEASE = "runner"
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_WIPED = "{}"


class PermanentJobError(Exception):
    """Raise from a handler when retrying cannot help: the job goes dead at once."""


def describe_error(error: BaseException) -> str:
    """What an administrator sees of a failure: the error's type and message, with
    e-mail addresses masked (servers echo recipients), cut to a readable length.
    Handlers must not put patient data into exception messages."""
    message = _EMAIL.sub("<address>", str(error))
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text[:ERROR_MAX_LENGTH]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n + 1`` after ``n`` failures: ``base * 2**(n-1)`` capped at
    ``cap``, of which a random half is taken off (jitter), so that jobs that failed
    together do not all come back at the same second."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> timedelta:
        full = min(self.base * (1 << min(max(failures - 1, 0), 30)), self.cap)
        return full / 2 + full / 2 * random.random()  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    kind: str
    payload: str
    organization_id: uuid.UUID | None
    attempts: int
    max_attempts: int
    run_at: datetime


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running with a lease that ran out (its worker died)."""
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_at <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )


async def _pick_due(
    session: AsyncSession, now: datetime
) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """The oldest due job's id and organization, locked for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        row = (
            await session.execute(
                text("SELECT job_id, organization_id FROM clinicdesk_next_due_job(:now)"),
                {"now": now},
            )
        ).first()
    else:
        await use_system_scope(session)
        row = (
            await session.execute(
                select(Job.id, Job.organization_id)
                .where(_due(now))
                .order_by(Job.run_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()
    return None if row is None else (row[0], row[1])


async def _scope_to_job(session: AsyncSession, organization_id: uuid.UUID | None) -> None:
    if organization_id is None:
        await use_system_scope(session)  # a system job: the installation's own row
    else:
        await scope_to_tenant(session, organization_id)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:100]


class JobRunner:
    """Runs the jobs of one database with the handlers of one registry."""

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        *,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        concurrency: int = 1,
        unit_of_work: UnitOfWork | None = None,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.lease = lease
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff()
        self.concurrency = concurrency
        self.name = name or worker_name()
        # Tests hand in their own (one shared connection): then no concurrent heartbeat.
        self._own_sessions = unit_of_work is None
        self._uow: UnitOfWork = unit_of_work or (lambda: session_scope(db))
        self._single_runner = db.kind == "sqlite"
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._lease_until: datetime | None = None

    # --- one job ---------------------------------------------------------------------

    async def claim(self) -> Claimed | None:
        """Take the oldest due job, or None. A job whose worker died during its last
        attempt is buried on the way (dead), and the next one is looked for."""
        while True:
            now = utcnow()
            async with self._uow() as session:
                picked = await _pick_due(session, now)
                if picked is None:
                    return None
                await _scope_to_job(session, picked[1])
                job = await session.scalar(select(Job).where(Job.id == picked[0]).with_for_update())
                if job is None:
                    return None
                if job.status == JobStatus.RUNNING and job.attempts >= job.max_attempts:
                    self._bury(job, "the worker stopped during the last attempt", now)
                    log.warning(
                        "jobs.dead", job_id=str(job.id), kind=job.kind, attempts=job.attempts
                    )
                    continue  # committed as the block ends
                job.status = JobStatus.RUNNING
                job.attempts += 1
                job.locked_by = self.name
                job.locked_until = now + self.lease
                job.started_at = now
                return Claimed(
                    id=job.id,
                    kind=job.kind,
                    payload=job.payload,
                    organization_id=job.organization_id,
                    attempts=job.attempts,
                    max_attempts=job.max_attempts,
                    run_at=job.run_at,
                )  # the claim commits as the block ends

    async def run_one(self) -> bool:
        """Claim and run one due job; False when none was due."""
        claimed = await self.claim()
        if claimed is None:
            return False
        await self._execute(claimed)
        return True

    async def run_due(self, *, limit: int = 1000) -> int:
        """Run due jobs until none is left (or ``limit``); how many ran. For tests and
        tools; ``serve`` is the long-running form."""
        ran = 0
        while ran < limit and await self.run_one():
            ran += 1
        return ran

    async def _execute(self, claimed: Claimed) -> None:
        bound = log.bind(job_id=str(claimed.id), kind=claimed.kind, attempt=claimed.attempts)
        heartbeat = asyncio.create_task(self._heartbeat(claimed)) if self._own_sessions else None
        try:
            registered = self.registry.lookup(claimed.kind)
            payload = registered.kind.payload.model_validate_json(claimed.payload)
            async with self._uow() as session:
                if claimed.organization_id is not None:
                    await scope_to_tenant(session, claimed.organization_id)
                context = JobContext(
                    job_id=claimed.id,
                    organization_id=claimed.organization_id,
                    attempt=claimed.attempts,
                    run_at=claimed.run_at,
                    session=session,
                    db=self.db,
                )
                await registered.handler(context, payload)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(claimed))
            bound.info("jobs.returned_to_queue")
            raise
        except (UnknownJobKind, ValidationError, PermanentJobError) as error:
            await self._finish_failed(claimed, error, permanent=True)
            bound.warning("jobs.failed", error=describe_error(error), permanent=True)
        except Exception as error:
            await self._finish_failed(claimed, error, permanent=False)
            bound.warning("jobs.failed", error=describe_error(error))
        else:
            await self._finish_succeeded(claimed)
            bound.info("jobs.succeeded")
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    @contextlib.asynccontextmanager
    async def _holding(self, claimed: Claimed) -> AsyncIterator[Job | None]:
        """The claimed row, if this worker still holds its lease."""
        async with self._uow() as session:
            await _scope_to_job(session, claimed.organization_id)
            yield await session.scalar(
                select(Job)
                .where(
                    Job.id == claimed.id,
                    Job.status == JobStatus.RUNNING,
                    Job.locked_by == self.name,
                )
                .with_for_update()
            )

    async def _finish_succeeded(self, claimed: Claimed) -> None:
        async with self._holding(claimed) as job:
            if job is None:
                log.warning("jobs.lease_lost", job_id=str(claimed.id), kind=claimed.kind)
                return
            job.status = JobStatus.SUCCEEDED
            job.payload = _WIPED
            job.finished_at = utcnow()
            self._unlock(job)

    async def _finish_failed(
        self, claimed: Claimed, error: BaseException, *, permanent: bool
    ) -> None:
        now = utcnow()
        async with self._holding(claimed) as job:
            if job is None:
                log.warning("jobs.lease_lost", job_id=str(claimed.id), kind=claimed.kind)
                return
            if permanent or job.attempts >= job.max_attempts:
                self._bury(job, describe_error(error), now)
                log.warning("jobs.dead", job_id=str(job.id), kind=job.kind, attempts=job.attempts)
                return
            job.status = JobStatus.QUEUED
            job.run_at = now + self.backoff.delay(job.attempts)
            job.last_error = describe_error(error)
            self._unlock(job)

    async def _release(self, claimed: Claimed) -> None:
        """Back to the queue, due now, the interrupted attempt not counted."""
        async with self._holding(claimed) as job:
            if job is not None:
                job.status = JobStatus.QUEUED
                job.attempts -= 1
                job.run_at = utcnow()
                self._unlock(job)

    @staticmethod
    def _bury(job: Job, error: str, now: datetime) -> None:
        job.status = JobStatus.DEAD
        job.last_error = error
        job.finished_at = now
        JobRunner._unlock(job)

    @staticmethod
    def _unlock(job: Job) -> None:
        job.locked_by = None
        job.locked_until = None

    async def _heartbeat(self, claimed: Claimed) -> None:
        """Renew the job's lease (and on SQLite the runner's) while the handler works, so
        a long job is not taken twice."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self._may_run()
                async with session_scope(self.db) as session:
                    await _scope_to_job(session, claimed.organization_id)
                    await session.execute(
                        update(Job)
                        .where(Job.id == claimed.id, Job.locked_by == self.name)
                        .values(locked_until=utcnow() + self.lease)
                    )
            except Exception as error:
                # A database away or busy for a moment must not end the renewals: the
                # lease has two more beats before it lapses.
                if not is_database_fault(error):
                    raise
                log.warning("jobs.heartbeat_missed", job_id=str(claimed.id), **describe(error))

    # --- schedules -------------------------------------------------------------------

    async def tick_schedules(self) -> int:
        """Enqueue the periodic runs that are due (each by exactly one process)."""
        enqueued = 0
        for schedule in self.registry.schedules:
            async with self._uow() as session:
                await use_system_scope(session)
                enqueued += await enqueue_if_due(session, schedule, holder=self.name)
        return enqueued

    # --- the long-running loop -------------------------------------------------------

    async def _may_run(self) -> bool:
        """On SQLite: whether this process holds (or just took) the runner lease."""
        if not self._single_runner:
            return True
        now = utcnow()
        if self._lease_until is not None and now < self._lease_until - self.lease / 2:
            return True
        async with session_scope(self.db) as session:
            held = await hold_lease(
                session, RUNNER_LEASE, holder=self.name, ttl=self.lease, now=now
            )
        self._lease_until = now + self.lease if held else None
        return held

    async def _anything_due(self) -> bool:
        """A cheap read before the claim's write transaction (on SQLite a write lock)."""
        now = utcnow()
        reader = self.db.engine.execution_options(**{SQLITE_BEGIN_DEFERRED: True})
        async with self.db.sessionmaker(bind=reader) as session:
            if self.db.kind == "postgresql":
                found = await session.scalar(
                    text("SELECT clinicdesk_any_job_due(:now)"), {"now": now}
                )
            else:
                await use_system_scope(session)
                found = await session.scalar(select(Job.id).where(_due(now)).limit(1))
            await session.rollback()
        return bool(found)

    async def _loop(self, *, ticks: bool) -> None:
        while not self._stopping.is_set():
            try:
                if await self._may_run():
                    if ticks:
                        await self.tick_schedules()
                    # The lease is checked before each job: it must not lapse (and let
                    # another process in) while this one works through a long queue.
                    while (
                        not self._stopping.is_set()
                        and await self._may_run()
                        and await self._anything_due()
                    ):
                        if not await self.run_one():
                            break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_database_fault(error):
                    # Expected while the database is away: a line, not a traceback per poll.
                    log.warning("jobs.database_fault", **describe(error))
                else:
                    log.exception("jobs.runner_error")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    def start(self) -> None:
        """Start ``concurrency`` loops in the running event loop."""
        add_waker(self._wake)
        self._loops = [
            asyncio.create_task(self._loop(ticks=i == 0), name=f"jobs-{i}")
            for i in range(self.concurrency)
        ]
        log.info("jobs.runner_started", worker=self.name, concurrency=self.concurrency)

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running jobs finish within ``grace`` seconds, then cancel
        them (they go back to the queue); give up the runner lease."""
        self._stopping.set()
        self._wake.set()
        remove_waker(self._wake)
        if self._loops:
            _done, pending = await asyncio.wait(self._loops, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
        if self._single_runner and self._lease_until is not None:
            with contextlib.suppress(Exception):
                async with session_scope(self.db) as session:
                    await release_lease(session, RUNNER_LEASE, holder=self.name)
        log.info("jobs.runner_stopped", worker=self.name)

    async def serve_until(self, stop: asyncio.Event, *, grace: float) -> None:
        """``start``, wait for ``stop`` to be set, then ``stop(grace)``."""
        self.start()
        await stop.wait()
        await self.stop(grace)


async def run_due_jobs(
    db: Database, registry: JobRegistry, *, unit_of_work: UnitOfWork | None = None, **options: Any
) -> int:
    """Run every job that is due now, in this task, and return how many ran."""
    return await JobRunner(db, registry, unit_of_work=unit_of_work, **options).run_due()
