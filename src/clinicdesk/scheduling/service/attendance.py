"""The appointment's side of a visit: the patient arrived (checked in at the front desk)
and the appointment was fulfilled (the consultation finished). The queue domain calls
these; a patient who leaves unseen is a no-show (``booking.mark_no_show``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.scheduling.errors import CheckInTooEarly, TransitionRefused
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.policies import CHECK_IN_OPENS, check_in_is_early
from clinicdesk.scheduling.service.booking import get_appointment, record_change
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.vocabulary import AppointmentStatus

_BOOKED = {AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.BOOKED}


async def local_day(session: AsyncSession, appointment: Appointment) -> date:
    """The date of the appointment at its location."""
    zone = await location_zone(session, appointment.location_id)
    return appointment.starts_at.astimezone(zone).date()


async def _change(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment: Appointment,
    status: AppointmentStatus,
    action: str,
) -> Appointment:
    before = audit.snapshot(appointment)
    appointment.previous_status = appointment.status
    appointment.status = status
    appointment.status_changed_at = utcnow()
    await session.flush()
    await record_change(session, actor=actor, appointment=appointment, before=before, action=action)
    return appointment


async def mark_arrived(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    on_day: date,
    early: bool = False,
) -> Appointment:
    """The patient is here for a booked appointment of ``on_day`` (the location's today).
    More than ``policies.CHECK_IN_OPENS`` before the start it is refused (409
    check-in-too-early) unless the desk confirmed it (``early``): the patient will wait."""
    appointment = await get_appointment(session, appointment_id)
    if appointment.status == AppointmentStatus.ARRIVED:
        raise TransitionRefused("This appointment is already checked in.")
    if appointment.status not in _BOOKED:
        raise TransitionRefused(
            f"A {appointment.status} appointment cannot be checked in; book a new one or "
            "check the patient in as a walk-in."
        )
    day = await local_day(session, appointment)
    if day != on_day:
        raise TransitionRefused(
            f"This appointment is on {day:%a %d %b %Y}, not today. Reschedule it or check "
            "the patient in as a walk-in."
        )
    now = utcnow()
    if not early and check_in_is_early(appointment, now=now):
        zone = await location_zone(session, appointment.location_id)
        ahead = appointment.starts_at - now
        hours, minutes = divmod(int(ahead.total_seconds()) // 60, 60)
        raise CheckInTooEarly(
            f"This appointment is at {appointment.starts_at.astimezone(zone):%H:%M}, "
            f"{hours} h {minutes:02d} min from now; check-in opens "
            f"{int(CHECK_IN_OPENS.total_seconds()) // 60} minutes before. Confirm an early "
            "check-in if the patient will wait.",
            appointment_id=str(appointment.id),
        )
    return await _change(
        session,
        actor=actor,
        appointment=appointment,
        status=AppointmentStatus.ARRIVED,
        action="arrived",
    )


async def mark_fulfilled(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    """The consultation of a checked-in appointment finished."""
    appointment = await get_appointment(session, appointment_id)
    if appointment.status == AppointmentStatus.FULFILLED:
        return appointment
    if appointment.status not in {AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN}:
        raise TransitionRefused(f"A {appointment.status} appointment cannot be fulfilled.")
    return await _change(
        session,
        actor=actor,
        appointment=appointment,
        status=AppointmentStatus.FULFILLED,
        action="fulfilled",
    )


async def day_bounds(
    session: AsyncSession, location_id: uuid.UUID, day: date
) -> tuple[datetime, datetime]:
    """The UTC start and end of ``day`` at the location (23 or 25 hours across DST)."""
    zone = await location_zone(session, location_id)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


async def location_today(session: AsyncSession, location_id: uuid.UUID) -> date:
    zone = await location_zone(session, location_id)
    return utcnow().astimezone(zone).date()


async def record_patient_confirmation(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    """The patient said they will come (a reply to a reminder, a link in an e-mail):
    recorded once, audited as their own act; only an appointment still ahead and booked
    can be confirmed."""
    appointment = await get_appointment(session, appointment_id)
    if appointment.status not in _BOOKED or appointment.starts_at <= utcnow():
        raise TransitionRefused(f"A {appointment.status} appointment cannot be confirmed any more.")
    if appointment.patient_confirmed_at is not None:
        return appointment
    before = audit.snapshot(appointment)
    appointment.patient_confirmed_at = utcnow()
    await session.flush()
    await record_change(
        session, actor=actor, appointment=appointment, before=before, action="confirmed"
    )
    return appointment
