"""Durable jobs on both databases, inside each test's transaction: the outbox, retries
with backoff, dead letters and retry, dedupe, tenant scoping, schedules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import Database
from clinicdesk.core.jobs import (
    Backoff,
    Job,
    JobContext,
    JobKind,
    JobRegistry,
    JobRunner,
    JobStatus,
    Schedule,
    enqueue,
)
from clinicdesk.core.jobs import admin as jobs_admin
from clinicdesk.core.jobs.admin import JobNotDead
from clinicdesk.core.jobs.models import JobSchedule
from clinicdesk.core.jobs.purge import PURGE, PurgePayload, register_housekeeping
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import (
    TenantScopeError,
    clear_scope,
    current_scope,
    scope_to_tenant,
    use_system_scope,
)
from tests.support.identity import create_org
from tests.support.jobs import run_jobs_in, shared_unit_of_work


class Note(BaseModel):
    text: str


NOTE = JobKind("test.note", Note, max_attempts=3)


class Recorder:
    """A handler that records what it ran and fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[str, uuid.UUID | None, uuid.UUID | None]] = []

    async def __call__(self, context: JobContext, payload: Note) -> None:
        self.calls.append(
            (payload.text, context.organization_id, current_scope(context.session).organization_id)
        )
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"mail server down for {payload.text}@example.org")


def registry_with(handler: Recorder) -> JobRegistry:
    registry = JobRegistry()
    registry.register(NOTE, handler)
    return registry


async def job_row(session: AsyncSession, job_id: uuid.UUID) -> Job:
    await use_system_scope(session)
    session.expire_all()
    job = await session.get(Job, job_id)
    assert job is not None
    return job


async def test_a_job_whose_transaction_rolls_back_never_runs(
    session: AsyncSession, db: Database
) -> None:
    handler = Recorder()
    await use_system_scope(session)
    await enqueue(session, NOTE, Note(text="never"))
    await session.rollback()
    assert await run_jobs_in(session, db, registry_with(handler)) == 0
    assert handler.calls == []
    await use_system_scope(session)
    assert (await session.scalars(select(Job))).all() == []


async def test_a_committed_job_runs_exactly_once_and_its_payload_is_wiped(
    session: AsyncSession, db: Database
) -> None:
    handler = Recorder()
    await use_system_scope(session)
    job_id = await enqueue(session, NOTE, Note(text="once"))
    assert job_id is not None
    await session.commit()
    registry = registry_with(handler)
    assert await run_jobs_in(session, db, registry) == 1
    assert await run_jobs_in(session, db, registry) == 0
    assert handler.calls == [("once", None, None)]
    job = await job_row(session, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.SUCCEEDED, 1, None)
    assert job.payload == "{}"  # sign-in links and patient data do not outlive the send


async def test_the_payload_is_encrypted_in_the_table(session: AsyncSession, db: Database) -> None:
    await use_system_scope(session)
    job_id = await enqueue(session, NOTE, Note(text="a secret link"))
    await session.flush()
    read = await session.scalar(select(Job.payload).where(Job.id == job_id))
    stored = (
        await (await session.connection()).exec_driver_sql(
            "SELECT payload FROM jobs WHERE kind = 'test.note'"
        )
    ).scalar_one()
    assert read == '{"text":"a secret link"}'  # read back through the column type
    assert "secret" not in stored
    assert stored.startswith("v1.")


async def test_failures_back_off_growing_then_go_dead_and_a_retry_runs_again(
    session: AsyncSession, db: Database
) -> None:
    handler = Recorder(failures=3)
    registry = registry_with(handler)
    await use_system_scope(session)
    job_id = await enqueue(session, NOTE, Note(text="ana"))
    assert job_id is not None
    await session.commit()
    runner = JobRunner(
        db,
        registry,
        unit_of_work=shared_unit_of_work(session),
        backoff=Backoff(base=timedelta(seconds=10), cap=timedelta(hours=1)),
    )
    delays = []
    for attempt in (1, 2):
        before = utcnow()
        assert await runner.run_due() == 1
        job = await job_row(session, job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, attempt)
        assert job.last_error == "RuntimeError: mail server down for <address>"
        delays.append(job.run_at - before)
        assert await runner.run_due() == 0  # not due yet
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        await session.commit()
    assert timedelta(seconds=5) <= delays[0] <= timedelta(seconds=10.5)
    assert timedelta(seconds=10) <= delays[1] <= timedelta(seconds=20.5)
    assert delays[1] >= delays[0]

    assert await runner.run_due() == 1  # the third and last attempt
    job = await job_row(session, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
    assert job.finished_at is not None
    assert await runner.run_due() == 0

    await jobs_admin.retry(session, job_id=job_id)
    await session.commit()
    assert await runner.run_due() == 1
    job = await job_row(session, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert len(handler.calls) == 4
    with pytest.raises(JobNotDead):
        await jobs_admin.retry(session, job_id=job_id)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(seconds=60))
    for failures, full in ((1, 10), (2, 20), (3, 40), (4, 60), (30, 60), (500, 60)):
        for _ in range(20):
            delay = backoff.delay(failures).total_seconds()
            assert full / 2 <= delay <= full


async def test_a_job_runs_in_its_organizations_scope_and_tenants_see_only_their_own(
    session: AsyncSession, db: Database
) -> None:
    clinic_a = await create_org(session, "Clinic A")
    clinic_b = await create_org(session, "Clinic B")
    handler = Recorder()
    await scope_to_tenant(session, clinic_a.id)
    job_id = await enqueue(session, NOTE, Note(text="for a"))
    with pytest.raises(TenantScopeError):
        await enqueue(session, NOTE, Note(text="for b"), organization_id=clinic_b.id)
    await session.commit()
    assert await run_jobs_in(session, db, registry_with(handler)) == 1
    assert handler.calls == [("for a", clinic_a.id, clinic_a.id)]

    await scope_to_tenant(session, clinic_b.id)
    assert (await jobs_admin.list_jobs(session, status=None, cursor=None, limit=10)).items == []
    await scope_to_tenant(session, clinic_a.id)
    page = await jobs_admin.list_jobs(session, status=JobStatus.SUCCEEDED, cursor=None, limit=10)
    assert [item.id for item in page.items] == [job_id]


async def test_an_unscoped_session_cannot_enqueue(session: AsyncSession) -> None:
    await clear_scope(session)
    with pytest.raises(TenantScopeError):
        await enqueue(session, NOTE, Note(text="nobody's"))


async def test_a_dedupe_key_keeps_one_active_job(session: AsyncSession, db: Database) -> None:
    handler = Recorder()
    await use_system_scope(session)
    first = await enqueue(session, NOTE, Note(text="1"), dedupe_key="daily-report")
    second = await enqueue(session, NOTE, Note(text="2"), dedupe_key="daily-report")
    assert first is not None and second is None
    await session.commit()
    assert await run_jobs_in(session, db, registry_with(handler)) == 1
    await use_system_scope(session)
    third = await enqueue(session, NOTE, Note(text="3"), dedupe_key="daily-report")
    assert third is not None  # the first one finished: the key is free again


async def test_an_unknown_kind_or_bad_payload_goes_dead_at_once(
    session: AsyncSession, db: Database
) -> None:
    await use_system_scope(session)
    job_id = await enqueue(session, NOTE, Note(text="orphan"))
    await session.commit()
    assert await run_jobs_in(session, db, JobRegistry()) == 1
    job = await job_row(session, job_id)  # type: ignore[arg-type]
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert "no handler is registered for job kind 'test.note'" in (job.last_error or "")


async def test_a_due_schedule_is_enqueued_by_one_runner_only(
    session: AsyncSession, db: Database
) -> None:
    handler = Recorder()
    registry = registry_with(handler)
    registry.schedule(
        Schedule(name="test.hourly", kind=NOTE, payload=Note(text="tick"), every=timedelta(hours=1))
    )
    runners = [
        JobRunner(db, registry, unit_of_work=shared_unit_of_work(session), name=f"r{i}")
        for i in range(3)
    ]
    assert [await r.tick_schedules() for r in runners] == [0, 0, 0]  # first due next hour
    await session.execute(
        update(JobSchedule)
        .where(JobSchedule.name == "test.hourly")
        .values(next_run_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    assert [await r.tick_schedules() for r in runners] == [1, 0, 0]
    assert await runners[2].run_due() == 1
    assert [call[0] for call in handler.calls] == ["tick"]
    row = await session.get(JobSchedule, "test.hourly", populate_existing=True)
    assert row is not None and row.locked_by == "r0"
    assert row.next_run_at > utcnow()


def test_schedules_fall_on_their_period_boundaries() -> None:
    daily_at_two = Schedule(
        name="x",
        kind=NOTE,
        payload=Note(text="x"),
        every=timedelta(days=1),
        offset=timedelta(hours=2),
    )
    moment = datetime(2026, 12, 4, 11, 30, tzinfo=UTC)
    assert daily_at_two.next_due_after(moment) == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    at_two = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert daily_at_two.next_due_after(at_two) == datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    every_5s = Schedule(name="y", kind=NOTE, payload=Note(text="y"), every=timedelta(seconds=5))
    assert every_5s.next_due_after(moment + timedelta(seconds=7)) == moment + timedelta(seconds=10)


async def test_a_job_whose_worker_died_in_its_last_attempt_goes_dead(
    session: AsyncSession, db: Database
) -> None:
    handler = Recorder()
    await use_system_scope(session)
    job_id = await enqueue(session, NOTE, Note(text="last"))
    later = await enqueue(session, NOTE, Note(text="next"))
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status=JobStatus.RUNNING,
            attempts=NOTE.max_attempts,
            locked_by="gone",
            locked_until=utcnow() - timedelta(seconds=1),
            run_at=utcnow() - timedelta(minutes=5),
        )
    )
    await session.commit()
    assert await run_jobs_in(session, db, registry_with(handler)) == 1  # the next one
    assert [call[0] for call in handler.calls] == ["next"]
    dead = await job_row(session, job_id)  # type: ignore[arg-type]
    assert (dead.status, dead.attempts, dead.locked_by) == (JobStatus.DEAD, 3, None)
    assert dead.last_error == "the worker stopped during the last attempt"
    assert (await job_row(session, later)).status == JobStatus.SUCCEEDED  # type: ignore[arg-type]


async def test_the_hourly_purge_deletes_old_finished_jobs_only(
    session: AsyncSession, db: Database
) -> None:
    registry = registry_with(Recorder())
    register_housekeeping(registry, succeeded_days=7, dead_days=90)
    (purge,) = registry.schedules
    assert purge.every == timedelta(hours=1)
    await use_system_scope(session)
    ages = {"old done": 8, "new done": 6, "old dead": 91, "new dead": 30, "queued": 400}
    ids = {}
    for label, days in ages.items():
        ids[label] = await enqueue(session, NOTE, Note(text=label))
        status = {"done": JobStatus.SUCCEEDED, "dead": JobStatus.DEAD}.get(
            label.split()[-1], JobStatus.QUEUED
        )
        await session.execute(
            update(Job)
            .where(Job.id == ids[label])
            .values(
                status=status,
                finished_at=utcnow() - timedelta(days=days),
                run_at=utcnow() + timedelta(hours=1),
            )
        )
    await enqueue(session, PURGE, PurgePayload(succeeded_days=7, dead_days=90))
    await session.commit()
    assert await run_jobs_in(session, db, registry) == 1
    await use_system_scope(session)
    left = set((await session.scalars(select(Job.id).where(Job.kind == NOTE.name))).all())
    assert left == {ids["new done"], ids["new dead"], ids["queued"]}
