"""Sending: the delivery job through the file sink and through Twilio (a fake server),
an interrupted hand-over sent once, opt-outs, the daily limit; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.config import Settings
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.jobs.models import Job, JobStatus
from clinicdesk.core.mail import FileMailSender
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.notifications.channels import EmailSender, FileSink, Outgoing
from clinicdesk.notifications.message_models import Message, NotificationSettings
from clinicdesk.notifications.service import contacts
from clinicdesk.notifications.service.delivery import claim
from clinicdesk.notifications.service.planning import DELIVER
from clinicdesk.notifications.vocabulary import Channel, MessageStatus
from clinicdesk.patients.models import Patient
from tests.notifications.support import (
    PHONE,
    Desk,
    book_at,
    interrupted_hand_over,
    local,
    make_desk,
    messages_of,
)
from tests.support.jobs import run_app_jobs


async def immediate(session: AsyncSession, clinic: Organization, **extra: object) -> None:
    """No grace delay and no quiet hours: a confirmation is due at once."""
    values: dict[str, object] = {"grace_seconds": 0, "quiet_start": "00:00", "quiet_end": "00:00"}
    values.update(extra)
    session.add(NotificationSettings(organization_id=clinic.id, **values))
    await session.commit()


async def sent_confirmation(
    app: FastAPI, session: AsyncSession, desk: Desk, *, reason: str | None = None
) -> Message:
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    if reason is not None:
        appointment.reason = reason
        await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, desk.org.id)
    confirmation = (await messages_of(session, appointment.id))[0]
    await session.refresh(confirmation)
    return confirmation


async def test_a_due_confirmation_is_written_once_by_the_file_sink(
    app: FastAPI, session: AsyncSession, clinic: Organization, settings: Settings
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk, reason="Follow-up of HIV test")
    assert message.status == MessageStatus.SENT
    assert message.provider == "file"
    files = list((settings.data_dir / "messages" / "sms").glob("*.txt"))
    assert [f.name for f in files] == [f"{message.id}.txt"]
    text = files[0].read_text()
    assert "Riverside" in text and "Dr. Dee" in text and "10:00" in text
    assert "HIV" not in text and "Follow-up" not in text  # nothing clinical by default
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert await run_app_jobs(app, session) == 0  # nothing more to do


async def test_an_interrupted_hand_over_is_found_and_not_sent_again(
    app: FastAPI, session: AsyncSession, clinic: Organization, settings: Settings
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message, _ = await interrupted_hand_over(app, session, desk)
    written = settings.data_dir / "messages" / "sms" / f"{message.id}.txt"
    first_write = written.stat().st_mtime_ns
    # Its job is taken again (the lease lapsed): the sink is asked, and it has it.
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert written.stat().st_mtime_ns == first_write


async def test_a_last_attempt_that_finds_it_still_sending_leaves_a_recheck_not_a_stuck_message(
    app: FastAPI, session: AsyncSession, clinic: Organization, settings: Settings
) -> None:
    """The message's job, on its last attempt, finds the hand-over begun moments ago (by
    a worker that then stopped): the job ends without dying, and a recheck job comes
    back after the hand-over would be over, finds it at the channel and records it sent,
    never sending it twice."""
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message, _ = await interrupted_hand_over(app, session, desk)
    written = settings.data_dir / "messages" / "sms" / f"{message.id}.txt"
    first_write = written.stat().st_mtime_ns
    began = utcnow()
    message.sending_at = began
    job_key_like = f"notify:{message.id}:%"
    await session.execute(
        update(Job)
        .where(Job.dedupe_key.like(job_key_like))
        .values(attempts=DELIVER.max_attempts - 1, run_at=began - timedelta(seconds=1))
    )
    await session.commit()

    assert await run_app_jobs(app, session) == 1
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert message.status == MessageStatus.SENDING  # still the other worker's, for now
    jobs = (await session.scalars(select(Job).where(Job.dedupe_key.like(job_key_like)))).all()
    last = next(j for j in jobs if ":recheck:" not in (j.dedupe_key or ""))
    recheck = next(j for j in jobs if ":recheck:" in (j.dedupe_key or ""))
    assert last.status == JobStatus.SUCCEEDED
    assert recheck.status == JobStatus.QUEUED and recheck.attempts == 0
    assert recheck.run_at > began + timedelta(seconds=20)

    # The hand-over is over (its worker stopped): the recheck finds it at the channel.
    message.sending_at = began - timedelta(minutes=1)
    recheck.run_at = utcnow() - timedelta(seconds=1)
    await session.commit()
    assert await run_app_jobs(app, session) == 1
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert written.stat().st_mtime_ns == first_write


async def test_an_opted_out_channel_is_skipped_for_the_next_one(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    patient = Actor(
        kind=ActorKind.PATIENT, organization_id=clinic.id, patient_id=desk.book.patient_id
    )
    await contacts.set_opt_out(
        session,
        actor=patient,
        patient_id=desk.book.patient_id,
        channel=Channel.SMS,
        opted_out=True,
        source="reply",
    )
    await session.commit()
    message = await sent_confirmation(app, session, desk)
    assert message.channel == "email"
    assert message.status == MessageStatus.SENT


async def test_a_patient_opted_out_of_every_channel_is_not_messaged(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    patient = Actor(
        kind=ActorKind.PATIENT, organization_id=clinic.id, patient_id=desk.book.patient_id
    )
    for channel in (Channel.SMS, Channel.EMAIL):
        await contacts.set_opt_out(
            session,
            actor=patient,
            patient_id=desk.book.patient_id,
            channel=channel,
            opted_out=True,
            source="reply",
        )
    await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    confirmation = (await messages_of(session, appointment.id))[0]
    await session.refresh(confirmation)
    assert confirmation.status == MessageStatus.SUPPRESSED
    assert "opted out" in (confirmation.status_reason or "")


async def test_the_daily_limit_holds_back_one_message_too_many(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic, daily_limit=1)
    first = await book_at(session, desk, local(desk.book.monday, 10))
    second = await book_at(session, desk, local(desk.book.monday, 14))
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    statuses = []
    for appointment in (first, second):
        confirmation = (await messages_of(session, appointment.id))[0]
        await session.refresh(confirmation)
        statuses.append(confirmation.status)
    assert sorted(statuses) == ["sent", "suppressed"]


async def test_a_message_due_in_quiet_hours_is_postponed_not_sent(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    now = utcnow()
    # Quiet hours are the whole hour around now (UTC location): the message waits.
    start = (now - timedelta(minutes=30)).strftime("%H:%M")
    end = (now + timedelta(minutes=30)).strftime("%H:%M")
    await immediate(session, clinic, quiet_start=start, quiet_end=end)
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    confirmation = (await messages_of(session, appointment.id))[0]
    assert confirmation.due_at > now  # planned for the end of the quiet hours
    # Had it been planned earlier, the sender would still hold it back.
    await session.execute(update(Message).where(Message.id == confirmation.id).values(due_at=now))
    await session.commit()
    claimed = await claim(session, confirmation.id, app.state.notifications, job_id=uuid.uuid4())
    assert claimed is None
    await session.commit()
    await session.refresh(confirmation)
    assert confirmation.status == MessageStatus.QUEUED
    assert confirmation.status_reason == "Quiet hours."
    assert confirmation.due_at > now + timedelta(minutes=25)


def test_the_file_sink_writes_a_message_once(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "messages")
    out = Outgoing(uuid.uuid4(), Channel.SMS, PHONE, None, "Hello")
    asyncio.run(sink.send(out))
    asyncio.run(sink.send(Outgoing(out.message_id, Channel.SMS, PHONE, None, "Changed")))
    (written,) = (tmp_path / "messages" / "sms").iterdir()
    assert "Hello" in written.read_text()
    assert asyncio.run(sink.find_sent(out, utcnow())) == str(out.message_id)


def test_an_email_sent_again_after_a_retry_carries_the_same_message_id(tmp_path: Path) -> None:
    """E-mail cannot be asked whether it arrived, so a retry may send a second copy; it
    has the message's own Message-ID, and mail clients show one."""
    sender = EmailSender(FileMailSender(tmp_path / "mail", sender="Clinic <desk@clinic.example>"))
    out = Outgoing(uuid.uuid4(), Channel.EMAIL, "ann@example.org", "Your visit", "Hello")
    asyncio.run(sender.send(out))
    asyncio.run(sender.send(out))
    copies = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((tmp_path / "mail").glob("*.eml"))
    ]
    assert [m["Message-ID"] for m in copies] == [f"<{out.message_id}@clinic.example>"] * 2


async def test_nobody_is_messaged_whose_death_is_recorded(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    patient = await session.get(Patient, desk.book.patient_id)
    assert patient is not None
    patient.deceased_on = utcnow().date()
    await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    confirmation = (await messages_of(session, appointment.id))[0]
    await session.refresh(confirmation)
    assert confirmation.status == MessageStatus.SUPPRESSED
    assert confirmation.status_reason == "The patient has died."
