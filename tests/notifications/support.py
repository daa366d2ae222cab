"""Helpers of the notification tests: a bookable clinic whose patients can be reached,
booking through the service, and reading the messages planned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.jobs.models import Job
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Location, Organization
from clinicdesk.notifications.channels import Accepted
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.delivery import claim, outgoing
from clinicdesk.patients.models import Patient
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.schemas import AppointmentCreate
from clinicdesk.scheduling.service import booking
from tests.support.scheduling import Book, make_book

PHONE = "+16172013344"
OTHER_PHONE = "+16172015566"


@dataclass
class Desk:
    org: Organization
    book: Book
    actor: Actor


async def make_desk(session: AsyncSession, clinic: Organization, *, zone: str = "UTC") -> Desk:
    """The scheduling ``Book`` (hours 08-12 and 13-17, Mon-Fri, at the location's zone),
    its first patient reachable by text and e-mail, the second by e-mail only."""
    b = await make_book(session, clinic)
    await scope_to_tenant(session, clinic.id)
    location = await session.get(Location, b.location_id)
    assert location is not None
    location.time_zone = zone
    location.phone = "+1 617 555 0100"
    first = await session.get(Patient, b.patient_id)
    second = await session.get(Patient, b.other_patient_id)
    assert first is not None and second is not None
    first.phone, first.email = PHONE, "ann@example.org"
    second.email = "ben@example.org"
    await session.commit()
    actor = Actor(
        kind=ActorKind.STAFF,
        organization_id=clinic.id,
        roles=frozenset({"receptionist"}),
        permissions=frozenset(),
    )
    return Desk(org=clinic, book=b, actor=actor)


def local(day: date, hour: int, zone: str = "UTC", minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` in ``zone``, as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def book_at(
    session: AsyncSession, desk: Desk, starts_at: datetime, *, patient_id: uuid.UUID | None = None
) -> Appointment:
    appointment = await booking.book(
        session,
        actor=desk.actor,
        data=AppointmentCreate(
            patient_id=patient_id or desk.book.patient_id,
            provider_id=desk.book.provider_id,
            location_id=desk.book.location_id,
            type_id=desk.book.type_id,
            starts_at=starts_at,
        ),
    )
    await session.commit()
    return appointment


async def messages_of(session: AsyncSession, appointment_id: uuid.UUID) -> list[Message]:
    rows = await session.scalars(
        select(Message).where(Message.appointment_id == appointment_id).order_by(Message.due_at)
    )
    return list(rows)


def soon(minutes: int = 0) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def interrupted_hand_over(
    app: FastAPI, session: AsyncSession, desk: Desk
) -> tuple[Message, Accepted]:
    """A booking's confirmation that a worker claimed (with its real delivery job),
    handed to the channel, and then stopped before recording it; a minute later its job
    is due to be taken again."""
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    confirmation = (await messages_of(session, appointment.id))[0]
    job = await session.scalar(
        select(Job).where(Job.dedupe_key.like(f"notify:{confirmation.id}:%"))
    )
    assert job is not None
    senders = app.state.notifications
    claimed = await claim(session, confirmation.id, senders, job_id=job.id)
    assert claimed is not None
    message, interrupted = claimed
    assert not interrupted
    accepted = await senders.text.send(outgoing(message, senders))
    message.sending_at = utcnow() - timedelta(minutes=1)
    await session.commit()
    return message, accepted
