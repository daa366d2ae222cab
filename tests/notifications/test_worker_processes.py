"""Sending from real worker processes (``clinicdesk worker`` with the test kinds), through
a fake Twilio server, connected as the application role: a worker killed after Twilio
took a message but before it was recorded sends it exactly once after the restart (both
databases), and three workers never send one message twice."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

from sqlalchemy import select

from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.contacts import Reach
from clinicdesk.notifications.service.planning import add_message
from clinicdesk.notifications.vocabulary import Channel, MessageStatus, Purpose
from tests.core.test_jobs_processes import jobs_db, jobs_url, wait_for, workers
from tests.notifications.fake_twilio import SMS_FROM, FakeTwilio
from tests.support.identity import create_org

__all__ = ["jobs_db", "jobs_url"]  # fixtures used by the tests below


def twilio_env(fake: FakeTwilio) -> dict[str, str]:
    return {
        "CLINICDESK_TEXT_PROVIDER": "twilio",
        "CLINICDESK_TWILIO_ACCOUNT_SID": fake.account_sid,
        "CLINICDESK_TWILIO_AUTH_TOKEN": fake.auth_token,
        "CLINICDESK_TEXT_FROM": SMS_FROM,
        "CLINICDESK_TWILIO_API_URL": fake.url,
        # A hand-over younger than 20 s is left alone; quick retries look again soon.
        "CLINICDESK_JOBS_RETRY_BASE_SECONDS": "2",
    }


async def organization(owner_url: str) -> uuid.UUID:
    owner = create_database(owner_url, pool_size=1)
    try:
        async with session_scope(owner) as session:
            await use_system_scope(session)
            org = await create_org(session, f"Clinic {uuid.uuid4().hex[:6]}")
            return org.id
    finally:
        await owner.dispose()


async def queue_texts(db: Database, organization_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """``count`` test texts to different numbers, due now, each with its delivery job."""
    ids = []
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        for n in range(count):
            message = await add_message(
                session,
                purpose=Purpose.TEST,
                to=Reach(channel=Channel.SMS, address=f"+1617201{n:04d}", language="en"),
                due_at=utcnow(),
                patient_id=None,
            )
            ids.append(message.id)
    return ids


async def messages(db: Database, organization_id: uuid.UUID) -> list[Message]:
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        return list(await session.scalars(select(Message)))


async def test_a_worker_killed_after_the_provider_took_a_text_sends_it_once(
    jobs_url: str,
    jobs_db: Database,
    migrated_database_url: str,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    org_id = await organization(migrated_database_url)
    (message_id,) = await queue_texts(jobs_db, org_id, 1)
    fake_twilio.delay_next(60)  # Twilio records it and does not answer yet
    with workers(tmp_path, jobs_url, 1, **twilio_env(fake_twilio)) as (worker,):
        await asyncio.to_thread(fake_twilio.wait_for_messages, 1, 30)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    fake_twilio.release()
    (stuck,) = await messages(jobs_db, org_id)
    assert stuck.status == MessageStatus.SENDING
    with workers(tmp_path, jobs_url, 1, **twilio_env(fake_twilio)):

        async def recorded() -> bool:
            (message,) = await messages(jobs_db, org_id)
            return message.status == MessageStatus.SENT

        await wait_for(recorded, seconds=90)
    (sent,) = await messages(jobs_db, org_id)
    (received,) = fake_twilio.messages
    assert sent.id == message_id
    assert sent.provider_id == received.sid
    assert sent.attempts == 1  # asked, found, not handed over again


async def test_three_workers_send_every_text_exactly_once(
    jobs_url: str,
    jobs_db: Database,
    migrated_database_url: str,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    # On SQLite one of them holds the runner lease at a time (one writer anyway); the
    # others stand by. On PostgreSQL all three claim side by side.
    org_id = await organization(migrated_database_url)
    ids = await queue_texts(jobs_db, org_id, 30)
    with workers(tmp_path, jobs_url, count=3, **twilio_env(fake_twilio)):

        async def all_sent() -> bool:
            rows = await messages(jobs_db, org_id)
            return all(m.status == MessageStatus.SENT for m in rows)

        await wait_for(all_sent, seconds=120)
        await asyncio.sleep(1)  # anything sent twice would arrive meanwhile
    received = fake_twilio.messages
    assert sorted(m.to for m in received) == sorted(f"+1617201{n:04d}" for n in range(30))
    rows = await messages(jobs_db, org_id)
    assert {m.id for m in rows} == set(ids)
    assert sorted(str(m.provider_id) for m in rows) == sorted(m.sid for m in received)
