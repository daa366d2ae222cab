"""Check-in: a booked patient arrives (the appointment becomes "arrived") or a walk-in
joins a queue. Each check-in gets the day's next token at the location (``M-012``), from
a per-location, per-day counter that never repeats a number, even when two desks check
patients in at the same second (``core.counters``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.counters import next_value
from clinicdesk.core.models import utcnow
from clinicdesk.core.tokens import new_token
from clinicdesk.identity import public as identity
from clinicdesk.patients.public import get_writable_patient
from clinicdesk.queue.errors import AlreadyCheckedIn, CheckInRefused
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import AppointmentCheckIn, WalkInCheckIn
from clinicdesk.queue.service.common import get_visit, record_step
from clinicdesk.queue.vocabulary import OPEN_STATUSES, VisitStatus, VisitStep
from clinicdesk.scheduling import public as scheduling


def token_prefix(location_name: str) -> str:
    """The letter of a location's tokens: its name's first letter (``Main Street`` -> M)."""
    for char in location_name.upper():
        if "A" <= char <= "Z":
            return char
    return "A"


async def _next_token(session: AsyncSession, location_id: uuid.UUID, day: date) -> tuple[int, str]:
    location = await identity.get_location(session, location_id)
    number = await next_value(session, f"queue:{location_id}:{day.isoformat()}")
    return number, f"{token_prefix(location.name)}-{number:03d}"


async def _refuse_second_open_visit(
    session: AsyncSession, *, patient_id: uuid.UUID, location_id: uuid.UUID, day: date
) -> None:
    open_visit = await session.scalar(
        select(Visit).where(
            Visit.patient_id == patient_id,
            Visit.location_id == location_id,
            Visit.service_date == day,
            Visit.status.in_(OPEN_STATUSES),
        )
    )
    if open_visit is not None:
        raise AlreadyCheckedIn(
            f"This patient is already checked in today as {open_visit.token}.",
            visit_id=str(open_visit.id),
        )


async def _new_visit(
    session: AsyncSession,
    *,
    actor: Actor,
    location_id: uuid.UUID,
    patient_id: uuid.UUID,
    day: date,
    order_key: datetime,
    **fields: object,
) -> tuple[Visit, str]:
    await _refuse_second_open_visit(
        session, patient_id=patient_id, location_id=location_id, day=day
    )
    number, token = await _next_token(session, location_id, day)
    now = utcnow()
    secret, secret_hash = new_token()
    _start, end_of_day = await scheduling.day_bounds(session, location_id, day)
    visit = Visit(
        location_id=location_id,
        patient_id=patient_id,
        service_date=day,
        token=token,
        token_number=number,
        status=VisitStatus.WAITING,
        order_key=order_key,
        arrived_at=now,
        checked_in_by_id=actor.user_id,
        status_link_hash=secret_hash,
        status_link_expires_at=end_of_day,
        **fields,
    )
    session.add(visit)
    await record_step(
        session, actor=actor, visit=visit, step=VisitStep.CHECKED_IN, at=now, before=None
    )
    return visit, secret


async def check_in_appointment(
    session: AsyncSession, *, actor: Actor, data: AppointmentCheckIn
) -> tuple[Visit, str]:
    """The visit and the raw secret of the patient's status link (shown once)."""
    appointment = await scheduling.get_appointment(session, data.appointment_id)
    existing = await session.scalar(select(Visit).where(Visit.appointment_id == appointment.id))
    if existing is not None:
        raise AlreadyCheckedIn(
            f"This appointment is already checked in as {existing.token}.",
            visit_id=str(existing.id),
        )
    day = await scheduling.location_today(session, appointment.location_id)
    await scheduling.mark_arrived(
        session, actor=actor, appointment_id=appointment.id, on_day=day, early=data.early
    )
    return await _new_visit(
        session,
        actor=actor,
        location_id=appointment.location_id,
        patient_id=appointment.patient_id,
        day=day,
        order_key=appointment.starts_at,
        appointment_id=appointment.id,
        provider_id=appointment.provider_id,
        type_id=appointment.type_id,
        priority=int(data.priority),
        priority_reason=data.priority_reason,
    )


async def check_in_walk_in(
    session: AsyncSession, *, actor: Actor, data: WalkInCheckIn
) -> tuple[Visit, str]:
    patient = await get_writable_patient(session, data.patient_id, actor=actor)
    await identity.get_location(session, data.location_id)
    if data.provider_id is not None:
        await scheduling.check_works_at(session, data.provider_id, data.location_id)
    if data.type_id is not None:
        await scheduling.get_type(session, data.type_id)
    day = await scheduling.location_today(session, data.location_id)
    return await _new_visit(
        session,
        actor=actor,
        location_id=data.location_id,
        patient_id=patient.id,
        day=day,
        order_key=utcnow(),
        provider_id=data.provider_id,
        type_id=data.type_id,
        priority=int(data.priority),
        priority_reason=data.priority_reason,
        note=data.note,
    )


async def renew_status_link(
    session: AsyncSession, *, actor: Actor, visit_id: uuid.UUID
) -> tuple[Visit, str]:
    """A new private link for the patient (the old one stops working)."""
    visit = await get_visit(session, visit_id)
    if visit.status not in OPEN_STATUSES:
        raise CheckInRefused("The visit is over; its status link is no longer needed.")
    before = audit.snapshot(visit)
    secret, visit.status_link_hash = new_token()
    await session.flush()
    await audit.record(
        session,
        action="visit.status_link_renewed",
        actor=actor,
        resource_type="visit",
        resource_id=visit.id,
        patient_id=visit.patient_id,
        changes=audit.changes(before, audit.snapshot(visit)),
    )
    return visit, secret
