"""`clinicdesk jobs list|retry`: the operator's view of every organization's jobs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core import migrations
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.jobs import Job, JobStatus
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.mail import OutgoingMail
from clinicdesk.core.tenancy import use_system_scope
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY
from tests.test_cli_identity import base_env, run


async def test_an_operator_lists_and_retries_a_dead_job(
    migrated_database_url: str, tmp_path: Path
) -> None:
    db = create_database(migrated_database_url, pool_size=1)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            await use_system_scope(session)
            await send_mail(session, OutgoingMail(to="x@example.org", subject="S", text="T"))
            await session.execute(
                update(Job).values(status=JobStatus.DEAD, attempts=10, last_error="Boom: down")
            )
        env = base_env(
            tmp_path,
            CLINICDESK_DATABASE_URL=migrated_database_url,
            CLINICDESK_SECRET_KEY=TEST_SECRET_KEY,
            CLINICDESK_FIELD_ENCRYPTION_KEY=TEST_FIELD_KEY,
        )
        code, listed = await run(["jobs", "list"], env)
        assert code == 0, listed
        assert "mail.send dead 10/10 Boom: down" in listed
        assert "x@example.org" not in listed
        job_id = listed.split()[0]

        code, retried = await run(["jobs", "retry", job_id], env)
        assert (code, retried) == (0, f"Job {job_id} (mail.send) is queued again.")
        code, again = await run(["jobs", "retry", job_id], env)
        assert code == 1 and "Only failed (dead) jobs can be retried" in again
        code, none_dead = await run(["jobs", "list"], env)
        assert none_dead == "No jobs."

        async with session_scope(db) as session:
            await use_system_scope(session)
            job = await session.scalar(select(Job))
            assert job is not None and (job.status, job.attempts) == (JobStatus.QUEUED, 0)
            event = await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "job.retried")
            )
            assert event is not None and event.resource_id == job_id
    finally:
        await db.dispose()
