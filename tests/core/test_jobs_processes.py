"""Jobs across real processes (``python -m tests.support.jobs``, which is ``clinicdesk
worker`` with test job kinds), on both databases, connected as the application role:
a worker killed mid-job, several workers on one queue, periodic jobs in three
processes, and a graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.jobs import Job, JobRunner, JobStatus, enqueue
from clinicdesk.core.tenancy import use_system_scope
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, make_settings
from tests.support.jobs import RECORD, SLOW, Record, registry_with_test_kinds, scratch, traces
from tests.support.server import REPOSITORY, run_cli, running_server

LEASE_SECONDS = 1.0


@pytest.fixture
async def jobs_url(backend: str, migrated_database_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database with the trace table; the URL of the application role
    (on PostgreSQL: no table owner, row-level security applies)."""
    app_role = None
    if backend == "postgresql":
        app_role = make_url(str(request.getfixturevalue("postgres_url"))).username
    owner = create_database(migrated_database_url, pool_size=1)
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        async with owner.engine.begin() as conn:
            await conn.run_sync(scratch.create_all)
            if app_role:
                await conn.execute(text(f"GRANT ALL ON job_test_runs TO {app_role}"))
                await conn.execute(
                    text(f"GRANT USAGE ON SEQUENCE job_test_runs_id_seq TO {app_role}")
                )
    finally:
        await owner.dispose()
    if app_role is None:
        return migrated_database_url
    url = make_url(migrated_database_url).set(username=app_role)
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def jobs_db(jobs_url: str) -> AsyncIterator[Database]:
    db = create_database(jobs_url, pool_size=4)
    yield db
    await db.dispose()


def settings_for(tmp_path: Path, url: str) -> Settings:
    return make_settings(tmp_path, database_url=url)


@contextmanager
def workers(
    tmp_path: Path, url: str, count: int = 1, **env: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` worker processes, each started and ready (its runner started)."""
    environment = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(tmp_path / "data"),
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
        "CLINICDESK_JOBS_LEASE_SECONDS": str(LEASE_SECONDS),
        "CLINICDESK_JOBS_POLL_SECONDS": "0.1",
        **env,
    }
    processes, logs = [], []
    for n in range(count):
        log_path = tmp_path / f"worker-{n}-{time.monotonic_ns()}.log"
        logs.append(log_path)
        with log_path.open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.support.jobs"],
                    env=environment,
                    cwd=REPOSITORY,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 60
        for process, log_path in zip(processes, logs, strict=True):
            while b"jobs.runner_started" not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{log_path.read_text()}")
                time.sleep(0.05)
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def add_jobs(db: Database, *records: Record, slow: bool = False) -> list[str]:
    async with session_scope(db) as session:
        await use_system_scope(session)
        ids = [await enqueue(session, SLOW if slow else RECORD, r) for r in records]
    return [str(i) for i in ids]


async def job(db: Database, job_id: str) -> Job:
    async with session_scope(db) as session:
        await use_system_scope(session)
        found = await session.scalar(select(Job).where(Job.id == _uuid(job_id)))
        assert found is not None
        return found


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


async def wait_for(condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_worker_killed_mid_job_leaves_it_to_be_retried(
    jobs_url: str, jobs_db: Database, tmp_path: Path
) -> None:
    (job_id,) = await add_jobs(jobs_db, Record(label="killed", seconds=120), slow=True)
    with workers(tmp_path, jobs_url) as (worker,):

        async def started() -> bool:
            return len(await traces(jobs_db, event="started")) == 1

        await wait_for(started)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    stuck = await job(jobs_db, job_id)
    assert (stuck.status, stuck.attempts) == (JobStatus.RUNNING, 1)

    registry = registry_with_test_kinds(settings_for(tmp_path, jobs_url))
    runner = JobRunner(jobs_db, registry, lease=timedelta(seconds=LEASE_SECONDS))

    async def finished() -> bool:
        await runner.run_due()
        return (await job(jobs_db, job_id)).status == JobStatus.SUCCEEDED

    await wait_for(finished, seconds=15)
    done = await job(jobs_db, job_id)
    assert done.attempts == 2
    assert [(t["event"], t["attempt"]) for t in await traces(jobs_db)] == [
        ("started", 1),
        ("started", 2),
        ("finished", 2),
    ]


async def test_workers_on_one_queue_never_run_a_job_twice(
    backend: str, jobs_url: str, jobs_db: Database, tmp_path: Path
) -> None:
    with workers(tmp_path, jobs_url, count=3):
        ids = await add_jobs(jobs_db, *(Record(label=f"job {n}", seconds=0.02) for n in range(40)))

        async def all_ran() -> bool:
            return len(await traces(jobs_db, event="ran")) >= len(ids)

        await wait_for(all_ran, seconds=60)
        await asyncio.sleep(2 * LEASE_SECONDS)  # time enough for a wrongful second run
    ran = await traces(jobs_db, event="ran")
    assert sorted(str(t["job_id"]) for t in ran) == sorted(ids)  # each exactly once
    assert {(await job(jobs_db, i)).status for i in ids} == {JobStatus.SUCCEEDED}
    pids = {t["pid"] for t in ran}
    if backend == "postgresql":
        assert len(pids) >= 2  # SKIP LOCKED: the workers really shared the queue
    else:
        assert len(pids) == 1  # SQLite: the process holding the runner lease


async def test_a_periodic_job_runs_once_per_period_with_three_processes(
    jobs_url: str, jobs_db: Database, tmp_path: Path
) -> None:
    with workers(tmp_path, jobs_url, count=3, JOBS_TEST_TICK_SECONDS="1"):

        async def several_ticks() -> bool:
            return len(await traces(jobs_db, event="tick")) >= 5

        await wait_for(several_ticks, seconds=60)
    ticks = await traces(jobs_db, event="tick")
    periods = [t["at"] for t in ticks]
    assert len(periods) == len(set(periods)), periods  # no period ran twice
    assert len(ticks) >= 5


async def test_a_stopped_worker_returns_its_running_job_to_the_queue(
    jobs_url: str, jobs_db: Database, tmp_path: Path
) -> None:
    (job_id,) = await add_jobs(jobs_db, Record(label="long", seconds=120), slow=True)
    with workers(tmp_path, jobs_url, CLINICDESK_JOBS_SHUTDOWN_GRACE_SECONDS="0.3") as (worker,):

        async def started() -> bool:
            return len(await traces(jobs_db, event="started")) == 1

        await wait_for(started)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    returned = await job(jobs_db, job_id)
    assert (returned.status, returned.attempts, returned.locked_by) == (JobStatus.QUEUED, 0, None)


async def test_a_job_that_finishes_within_the_grace_period_completes(
    jobs_url: str, jobs_db: Database, tmp_path: Path
) -> None:
    registry = registry_with_test_kinds(settings_for(tmp_path, jobs_url))
    runner = JobRunner(jobs_db, registry, poll_interval=0.05)
    runner.start()
    (job_id,) = await add_jobs(jobs_db, Record(label="short", seconds=0.5), slow=True)

    async def started() -> bool:
        return len(await traces(jobs_db, event="started")) == 1

    await wait_for(started)
    await runner.stop(grace=10)
    finished = await job(jobs_db, job_id)
    assert (finished.status, finished.attempts) == (JobStatus.SUCCEEDED, 1)


async def test_serve_runs_mail_jobs_in_process(migrated_data_dir: Path) -> None:
    """The embedded default: `clinicdesk serve` on SQLite sends a reset mail by itself,
    moments after the request that queued it committed."""
    data_dir = migrated_data_dir
    with running_server(data_dir) as url:
        run_cli(
            data_dir,
            "org",
            "create",
            "Mail Clinic",
            "--admin-email",
            "head@example.org",
            "--admin-password",
            "serve-and-send-2026",
        )
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            asked = await client.post(
                "/api/v1/auth/password-reset", json={"email": "head@example.org"}
            )
            assert asked.status_code == 202

        async def mailed() -> bool:
            return any((data_dir / "mail").glob("*.eml"))

        await wait_for(mailed, seconds=15)
    (message,) = (data_dir / "mail").glob("*.eml")
    assert b"/password/reset?token=" in message.read_bytes()
