"""Running the runner: built from the settings, inside ``serve`` or as ``clinicdesk worker``."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import structlog

from clinicdesk.config import Settings
from clinicdesk.core.db import Database, create_database
from clinicdesk.core.jobs.registry import JobRegistry
from clinicdesk.core.jobs.runner import Backoff, JobRunner

log = structlog.get_logger(__name__)


def runner_from_settings(settings: Settings, db: Database, registry: JobRegistry) -> JobRunner:
    return JobRunner(
        db,
        registry,
        lease=timedelta(seconds=settings.jobs_lease_seconds),
        poll_interval=settings.jobs_poll_seconds,
        backoff=Backoff(
            base=timedelta(seconds=settings.jobs_retry_base_seconds),
            cap=timedelta(seconds=settings.jobs_retry_max_seconds),
        ),
        concurrency=settings.jobs_concurrency,
    )


async def run_worker(settings: Settings, registry: JobRegistry) -> None:
    """Run jobs until SIGTERM or SIGINT, then stop gracefully: a running job gets
    ``jobs_shutdown_grace_seconds`` to finish, otherwise it goes back to the queue."""
    db = create_database(
        settings.resolved_database_url,
        pool_size=settings.jobs_concurrency + 2,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = runner_from_settings(settings, db, registry)
    log.info("jobs.worker_started", database=db.kind, kinds=registry.kinds)
    try:
        await runner.serve_until(stop, grace=settings.jobs_shutdown_grace_seconds)
    finally:
        await db.dispose()
        log.info("jobs.worker_stopped")
