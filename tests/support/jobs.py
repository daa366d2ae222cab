"""Job test helpers: running due jobs inside a test's transaction, test job kinds that
leave a trace in a scratch table, and a worker process for multi-process tests.

``python -m tests.support.jobs`` is a ``clinicdesk worker`` whose registry also has the
test kinds (and, with ``JOBS_TEST_TICK_SECONDS``, a periodic ``test.tick``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import job_registry, mail_sender
from clinicdesk.config import Settings
from clinicdesk.core.db import Database, session_scope, unit_of_work
from clinicdesk.core.jobs import JobContext, JobKind, JobRegistry, Schedule, run_due_jobs
from clinicdesk.core.jobs.runner import UnitOfWork
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import (
    clear_scope,
    current_scope,
    scope_to_tenant,
    use_system_scope,
)

# --- inside a test's transaction ---------------------------------------------------------


def shared_unit_of_work(session: AsyncSession) -> UnitOfWork:
    """Units of work on the test's own session (its commits are savepoints), each started
    unscoped as a fresh session would be; the test's scope is restored afterwards."""

    @asynccontextmanager
    async def open_unit() -> AsyncIterator[AsyncSession]:
        before = current_scope(session)
        await clear_scope(session)
        try:
            async with unit_of_work(session):
                yield session
        finally:
            if before.system:
                await use_system_scope(session)
            elif before.organization_id is not None:
                await scope_to_tenant(session, before.organization_id)
            else:
                await clear_scope(session)

    return open_unit


async def run_jobs_in(session: AsyncSession, db: Database, registry: JobRegistry) -> int:
    """Run the jobs that are due, in the test's transaction; how many ran."""
    return await run_due_jobs(db, registry, unit_of_work=shared_unit_of_work(session))


async def run_app_jobs(app: FastAPI, session: AsyncSession) -> int:
    """Run the app's due jobs (its registry: mail and all) in the test's transaction."""
    return await run_jobs_in(session, app.state.runtime.db, app.state.jobs)


# --- test kinds and their trace -----------------------------------------------------------

scratch = MetaData()
runs = Table(
    "job_test_runs",
    scratch,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40)),
    Column("label", String(100)),
    Column("event", String(20)),
    Column("attempt", Integer),
    Column("pid", Integer),
    Column("at", DateTime(timezone=True)),
)


class Record(BaseModel):
    label: str
    seconds: float = 0.0


RECORD = JobKind("test.record", Record)
SLOW = JobKind("test.slow", Record, max_attempts=5)
TICK = JobKind("test.tick", Record)


async def _trace(session: AsyncSession, context: JobContext, label: str, event: str) -> None:
    await session.execute(
        insert(runs).values(
            job_id=str(context.job_id),
            label=label,
            event=event,
            attempt=context.attempt,
            pid=os.getpid(),
            at=context.run_at if event == "tick" else utcnow(),
        )
    )


async def record(context: JobContext, payload: Record) -> None:
    """One row per execution, committed with the job's own unit of work."""
    await asyncio.sleep(payload.seconds)
    await _trace(context.session, context, payload.label, "ran")


async def slow(context: JobContext, payload: Record) -> None:
    """Marks its start at once (committed apart), then works ``seconds`` on the first
    attempt only, so a retried run finishes quickly."""
    async with session_scope(context.db) as marker:
        await _trace(marker, context, payload.label, "started")
    if context.attempt == 1:
        await asyncio.sleep(payload.seconds)
    await _trace(context.session, context, payload.label, "finished")


async def tick(context: JobContext, payload: Record) -> None:
    await asyncio.sleep(payload.seconds)
    await _trace(context.session, context, payload.label, "tick")


def registry_with_test_kinds(settings: Settings, *, tick_every: float | None = None) -> JobRegistry:
    registry = job_registry(settings, mailer=mail_sender(settings))
    registry.register(RECORD, record)
    registry.register(SLOW, slow)
    registry.register(TICK, tick)
    if tick_every:
        registry.schedule(
            Schedule(
                name="test.tick",
                kind=TICK,
                payload=Record(label="tick", seconds=0.2),
                every=timedelta(seconds=tick_every),
            )
        )
    return registry


async def traces(db: Database, *, event: str | None = None) -> list[dict[str, object]]:
    async with session_scope(db) as session:
        query = select(runs).order_by(runs.c.id)
        if event is not None:
            query = query.where(runs.c.event == event)
        return [dict(row._mapping) for row in await session.execute(query)]


if __name__ == "__main__":
    from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
    from clinicdesk.core.jobs.worker import run_worker
    from clinicdesk.core.keys import load_or_create_keys
    from clinicdesk.core.logs import configure_logging

    settings = Settings()
    configure_logging(level="INFO", fmt="json")
    keys = load_or_create_keys(settings)
    configure_field_encryption(FieldKeyring(keys.field_encryption_key))
    every = os.environ.get("JOBS_TEST_TICK_SECONDS")
    asyncio.run(
        run_worker(
            settings, registry_with_test_kinds(settings, tick_every=float(every) if every else None)
        )
    )
