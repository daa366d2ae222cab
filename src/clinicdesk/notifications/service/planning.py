"""Planning a patient's messages when an appointment changes, in that change's transaction.

* **Booked**: a confirmation after the grace delay, and a reminder at each lead time of
  the organization (or of the appointment type) that is still ahead; an extra reminder
  the day before for a high no-show risk.
* **Moved**: the queued messages of the appointment are withdrawn and planned again. A
  confirmation that had not gone yet is replaced by one confirmation of the new time
  (the patient hears once about a booking edited twice within the grace delay).
* **Cancelled**: queued messages are withdrawn; a cancellation notice goes only if the
  patient had already been told of the booking.
* **Arrived, no-show, fulfilled**: queued reminders are withdrawn.

Every message row is written here and its delivery job enqueued with it (``enqueue``),
so a booking that rolls back leaves no message and sends nothing. The text is rendered
when the message goes out (``delivery``), so it always tells the appointment as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.jobs import JobKind, enqueue
from clinicdesk.core.models import utcnow
from clinicdesk.notifications.kernel.timing import (
    DAY_MINUTES,
    after_quiet_hours,
    parse_clock,
    reminder_due,
)
from clinicdesk.notifications.message_models import Message, NotificationSettings
from clinicdesk.notifications.service.configuration import get_settings
from clinicdesk.notifications.service.contacts import (
    Reach,
    address_hash,
    patient_to_message,
    reach,
)
from clinicdesk.notifications.vocabulary import MessageStatus, Purpose
from clinicdesk.scheduling import public as scheduling

# A reminder that could only go this close to the start is not worth sending.
TOO_LATE = timedelta(minutes=30)
EXTRA_REMINDER_LEAD = DAY_MINUTES


class DeliverMessage(BaseModel):
    message_id: uuid.UUID


DELIVER = JobKind("notifications.deliver", DeliverMessage, max_attempts=8)


def job_key(message: Message) -> str:
    """One active delivery job per message and due time (a postponed message gets a new
    job while the one that postponed it is still finishing)."""
    return f"notify:{message.id}:{int(message.due_at.timestamp())}"


async def schedule_delivery(session: AsyncSession, message: Message) -> None:
    await enqueue(
        session,
        DELIVER,
        DeliverMessage(message_id=message.id),
        run_at=message.due_at,
        dedupe_key=job_key(message),
    )


async def add_message(
    session: AsyncSession,
    *,
    purpose: Purpose,
    to: Reach | str,
    due_at: datetime,
    patient_id: uuid.UUID | None,
    appointment_id: uuid.UUID | None = None,
    waitlist_entry_id: uuid.UUID | None = None,
    visit_id: uuid.UUID | None = None,
    lead_minutes: int | None = None,
    planned_for: datetime | None = None,
    created_by_id: uuid.UUID | None = None,
    recall_id: uuid.UUID | None = None,
) -> Message:
    """Write one message and its delivery job; ``to`` is where it goes, or why it cannot
    go (the message is then recorded as not sent, with that reason, for the desk)."""
    now = utcnow()
    message = Message(
        patient_id=patient_id,
        appointment_id=appointment_id,
        waitlist_entry_id=waitlist_entry_id,
        visit_id=visit_id,
        purpose=purpose.value,
        lead_minutes=lead_minutes,
        planned_for=planned_for,
        due_at=due_at,
        created_by_id=created_by_id,
        created_at=now,
        updated_at=now,
        attempts=0,
        recall_id=recall_id,
    )
    if isinstance(to, Reach):
        message.channel = to.channel.value
        message.address = to.address
        message.address_hash = address_hash(to.address)
        message.language = to.language
        message.status = MessageStatus.QUEUED.value
    else:
        message.channel = "none"
        message.address = ""
        message.address_hash = ""
        message.language = "en"
        message.status = MessageStatus.SUPPRESSED.value
        message.status_reason = to
    session.add(message)
    await session.flush()
    if message.status == MessageStatus.QUEUED.value:
        await schedule_delivery(session, message)
    return message


def leads_for(settings: NotificationSettings, type_id: uuid.UUID, high_risk: bool) -> list[int]:
    leads = list(settings.type_leads.get(str(type_id), settings.reminder_leads))
    if high_risk and settings.extra_reminder_for_high_risk and EXTRA_REMINDER_LEAD not in leads:
        leads.append(EXTRA_REMINDER_LEAD)
    return sorted(set(leads), reverse=True)


async def withdraw(session: AsyncSession, appointment_id: uuid.UUID, reason: str) -> list[Message]:
    """Cancel the appointment's messages that have not gone; returns them."""
    pending = list(
        await session.scalars(
            select(Message).where(
                Message.appointment_id == appointment_id,
                Message.status == MessageStatus.QUEUED.value,
            )
        )
    )
    if pending:
        await session.execute(
            update(Message)
            .where(Message.id.in_([m.id for m in pending]))
            .values(status=MessageStatus.CANCELLED.value, status_reason=reason, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
    return pending


async def _told_before(session: AsyncSession, appointment_id: uuid.UUID) -> bool:
    """Whether any message about this appointment has gone out."""
    found = await session.scalar(
        select(Message.id)
        .where(Message.appointment_id == appointment_id, Message.sent_at.is_not(None))
        .limit(1)
    )
    return found is not None


async def _plan_appointment(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment: scheduling.Appointment,
    confirmation: Purpose | None,
    high_risk: bool,
) -> None:
    now = utcnow()
    if appointment.starts_at <= now:
        return  # a past visit recorded afterwards: nobody needs telling
    settings = await get_settings(session)
    plan = await _plan_for(session, appointment.patient_id, appointment.location_id)
    to, zone, quiet = plan.to, plan.zone, plan.quiet
    planned: list[tuple[Purpose, datetime, int | None]] = []
    if confirmation is not None:
        due = after_quiet_hours(now + plan.grace, zone, *quiet)
        planned.append((confirmation, due, None))
    for minutes in leads_for(settings, appointment.type_id, high_risk):
        due = after_quiet_hours(reminder_due(appointment.starts_at, minutes, zone), zone, *quiet)
        if due > now:
            planned.append((Purpose.REMINDER, due, minutes))
    for purpose, when, lead in planned:
        if when >= appointment.starts_at - TOO_LATE:
            continue
        await add_message(
            session,
            purpose=purpose,
            to=to,
            due_at=when,
            lead_minutes=lead,
            patient_id=appointment.patient_id,
            appointment_id=appointment.id,
            planned_for=appointment.starts_at,
            created_by_id=actor.user_id,
        )


async def on_appointment_changed(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    action: str,
    high_risk: bool = False,
) -> None:
    """Plan or withdraw the appointment's messages after ``action`` (see module rules)."""
    appointment = await scheduling.get_appointment(session, appointment_id)
    if action == "booked":
        await _plan_appointment(
            session,
            actor=actor,
            appointment=appointment,
            confirmation=Purpose.BOOKED,
            high_risk=high_risk,
        )
    elif action == "rescheduled":
        withdrawn = await withdraw(session, appointment.id, "The appointment moved.")
        unsent_booking = any(m.purpose == Purpose.BOOKED.value for m in withdrawn)
        told = await _told_before(session, appointment.id)
        purpose = Purpose.BOOKED if unsent_booking and not told else Purpose.RESCHEDULED
        await _plan_appointment(
            session,
            actor=actor,
            appointment=appointment,
            confirmation=purpose,
            high_risk=high_risk,
        )
    elif action == "cancelled":
        await withdraw(session, appointment.id, "The appointment was cancelled.")
        if await _told_before(session, appointment.id) and appointment.starts_at > utcnow():
            await _notify_cancelled(session, actor=actor, appointment=appointment)
    elif action in {"noshow", "arrived", "fulfilled", "checked-in"}:
        await withdraw(session, appointment.id, f"The appointment is {action}.")
    elif action == "undone" and appointment.status == scheduling.AppointmentStatus.BOOKED:
        await _plan_appointment(
            session,
            actor=actor,
            appointment=appointment,
            confirmation=None,
            high_risk=high_risk,
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where a patient's message goes and the quiet hours of the place it is about."""

    to: Reach | str
    zone: ZoneInfo
    quiet: tuple[time, time]
    grace: timedelta


async def _plan_for(session: AsyncSession, patient_id: uuid.UUID, location_id: uuid.UUID) -> _Plan:
    settings = await get_settings(session)
    patient = await patient_to_message(session, patient_id)
    return _Plan(
        to=await reach(session, patient, settings.channels),
        zone=await scheduling.location_zone(session, location_id),
        quiet=(parse_clock(settings.quiet_start), parse_clock(settings.quiet_end)),
        grace=timedelta(seconds=settings.grace_seconds),
    )


async def _notify_cancelled(
    session: AsyncSession, *, actor: Actor, appointment: scheduling.Appointment
) -> None:
    plan = await _plan_for(session, appointment.patient_id, appointment.location_id)
    await add_message(
        session,
        purpose=Purpose.CANCELLED,
        to=plan.to,
        due_at=after_quiet_hours(utcnow() + plan.grace, plan.zone, *plan.quiet),
        patient_id=appointment.patient_id,
        appointment_id=appointment.id,
        planned_for=appointment.starts_at,
        created_by_id=actor.user_id,
    )


async def on_waitlist_offered(session: AsyncSession, *, actor: Actor, entry_id: uuid.UUID) -> None:
    """Tell the patient about the offered time at once (quiet hours still apply)."""
    entry = await scheduling.get_waitlist_entry(session, entry_id)
    if entry.offered_start is None:
        return
    plan = await _plan_for(session, entry.patient_id, entry.location_id)
    due = after_quiet_hours(utcnow(), plan.zone, *plan.quiet)
    if due >= entry.offered_start - TOO_LATE:
        return
    await add_message(
        session,
        purpose=Purpose.WAITLIST_OFFER,
        to=plan.to,
        due_at=due,
        patient_id=entry.patient_id,
        waitlist_entry_id=entry.id,
        planned_for=entry.offered_start,
        created_by_id=actor.user_id,
    )
