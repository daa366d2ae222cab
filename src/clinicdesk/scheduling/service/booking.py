"""Booking, rescheduling, cancelling, no-shows and undo: the rules of the appointment book.

No double-booking is guaranteed by the database, not by this module's check alone:

* PostgreSQL: an exclusion constraint (migration 0004, btree_gist) refuses two rows of
  one provider with overlapping ``[starts_at, busy_until)`` among those that hold their
  slot and are not deliberate overbookings. Two concurrent bookings both pass the check
  below; the second INSERT waits for the first to commit and then fails, and answers 409.
* SQLite: every write transaction begins IMMEDIATE (core/db.py), so the check below
  runs under the database's write lock and the second booking sees the first.

The check still runs first on both, so the usual conflict gets a message naming what
is in the way.

Time that has passed: a booking, and a move, must start at most ``policies.PAST_GRACE``
before now (the slot under way is still bookable). A visit that already took place is
recorded only on purpose: ``record_past_visit`` on a new booking, open to everyone who
may book (the front desk catching up after an outage), kept in the audit entry. A move
into the past is always refused: there is nothing to record by moving.
No-shows: only once the appointment has begun (``policies.no_show_allowed``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.permissions import Permission
from clinicdesk.patients.public import get_writable_patient
from clinicdesk.scheduling.availability import covers
from clinicdesk.scheduling.errors import (
    AppointmentNotFound,
    BookingRefused,
    OutsideHours,
    SlotTaken,
    TimeInPast,
    TransitionRefused,
)
from clinicdesk.scheduling.models import Appointment, AppointmentType
from clinicdesk.scheduling.policies import no_show_allowed, starts_in_past
from clinicdesk.scheduling.schemas import AppointmentCreate, AppointmentReschedule
from clinicdesk.scheduling.service.hours import location_zone, open_time
from clinicdesk.scheduling.service.setup import check_works_at, get_provider, get_type
from clinicdesk.scheduling.signals import (
    AppointmentChanged,
    AppointmentFreed,
    appointment_changed,
    appointment_freed,
)
from clinicdesk.scheduling.vocabulary import FREEING_STATUSES, AppointmentStatus

# Longer than any appointment with its buffer (types allow 480 + 120 minutes).
LONGEST = timedelta(days=1)
# PostgreSQL's SQLSTATE for an exclusion constraint violation.
_EXCLUSION_VIOLATION = "23P01"
# Statuses that may be undone back to what they were, on the day they were set.
_UNDOABLE = {AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW}
_ACTIVE = {
    AppointmentStatus.PROPOSED,
    AppointmentStatus.PENDING,
    AppointmentStatus.BOOKED,
}


def _event(appointment: Appointment, kind: str) -> Event:
    return Event(
        organization_id=appointment.organization_id,
        type=f"appointment.{kind}",
        data={
            "appointment_id": str(appointment.id),
            "provider_id": str(appointment.provider_id),
            "location_id": str(appointment.location_id),
            "patient_id": str(appointment.patient_id),
            "starts_at": appointment.starts_at.isoformat(),
            "ends_at": appointment.ends_at.isoformat(),
            "status": appointment.status,
        },
    )


async def conflicts(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID,
    start: datetime,
    busy_until: datetime,
    exclude: uuid.UUID | None = None,
) -> list[Appointment]:
    """Appointments of the provider that hold time overlapping ``[start, busy_until)``."""
    statement = select(Appointment).where(
        Appointment.provider_id == provider_id,
        Appointment.holds_slot.is_(True),
        Appointment.starts_at < busy_until,
        # A lower bound on starts_at too, so the index scan does not begin at the
        # provider's first appointment ever: nothing lasts longer than LONGEST.
        Appointment.starts_at > start - LONGEST,
        Appointment.busy_until > start,
    )
    if exclude is not None:
        statement = statement.where(Appointment.id != exclude)
    return list((await session.scalars(statement)).all())


def _check_overbook_permission(actor: Actor, reason: str | None) -> None:
    if not actor.can(Permission.SCHEDULING_OVERBOOK):
        raise BookingRefused(
            "Only staff allowed to overbook may book outside the hours or over another "
            "appointment.",
        )
    if not reason:
        raise BookingRefused("Give a reason for overbooking (it is kept on the record).")


async def _place(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    kind: AppointmentType,
    start: datetime,
    overbook: bool,
    overbook_reason: str | None,
    exclude: uuid.UUID | None = None,
    past_visit: bool = False,
) -> tuple[datetime, datetime, bool]:
    """Check a time for a booking; returns (ends_at, busy_until, overbooked)."""
    end = start + timedelta(minutes=kind.duration_minutes)
    busy_until = end + timedelta(minutes=kind.buffer_after_minutes)
    if not past_visit and starts_in_past(start, now=utcnow()):
        local = start.astimezone(await location_zone(session, location_id))
        raise TimeInPast(
            f"{local:%H:%M} on {local:%a %d %b %Y} has already passed. Pick a time from now "
            "on; to record a visit that already took place, book it as a past visit."
        )
    if overbook:
        _check_overbook_permission(actor, overbook_reason)
        return end, busy_until, True
    zone = await location_zone(session, location_id)
    hours = await open_time(
        session,
        provider_id=provider_id,
        location_id=location_id,
        start=start - timedelta(hours=1),
        end=busy_until + timedelta(hours=1),
        zone=zone,
    )
    if not covers(hours, start, busy_until):
        local = start.astimezone(zone)
        raise OutsideHours(
            f"The provider does not see patients at this location at {local:%H:%M} on "
            f"{local:%a %d %b %Y} for {kind.duration_minutes + kind.buffer_after_minutes}"
            " minutes. Pick a free slot, or overbook with a reason if you are allowed to.",
        )
    taken = await conflicts(
        session, provider_id=provider_id, start=start, busy_until=busy_until, exclude=exclude
    )
    if taken:
        first = min(taken, key=lambda a: a.starts_at).starts_at.astimezone(zone)
        raise SlotTaken(
            f"The provider already has an appointment at {first:%H:%M} that overlaps this "
            "time. Pick another time.",
            conflicting_ids=[str(a.id) for a in taken],
        )
    return end, busy_until, False


async def check_time(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    kind: AppointmentType,
    start: datetime,
    exclude: uuid.UUID | None = None,
    past_visit: bool = False,
) -> tuple[datetime, datetime]:
    """The checks ``book`` runs for a time (not past unless ``past_visit``, the
    provider's open hours, no overlap with another appointment but ``exclude``), without
    booking: raises ``TimeInPast``, ``OutsideHours`` or ``SlotTaken`` (with the ids in
    the way); returns ``(ends_at, busy_until)``."""
    ends_at, busy_until, _ = await _place(
        session,
        actor=actor,
        provider_id=provider_id,
        location_id=location_id,
        kind=kind,
        start=start,
        overbook=False,
        overbook_reason=None,
        exclude=exclude,
        past_visit=past_visit,
    )
    return ends_at, busy_until


async def announce_freed_time(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    freed: tuple[datetime, datetime],
) -> None:
    """Tell the domains that react to freed time (the waitlist offers it) in this
    transaction; call it after the change is flushed and audited."""
    await appointment_freed.send(
        session,
        AppointmentFreed(
            actor=actor,
            provider_id=provider_id,
            location_id=location_id,
            starts_at=freed[0],
            ends_at=freed[1],
        ),
    )


async def _flush_or_conflict(session: AsyncSession) -> None:
    """Flush; the exclusion constraint's refusal (a concurrent booking won) is a 409."""
    try:
        await session.flush()
    except IntegrityError as error:
        code = getattr(getattr(error.orig, "__cause__", None), "sqlstate", None) or getattr(
            error.orig, "sqlstate", None
        )
        if code == _EXCLUSION_VIOLATION or "ex_appointments_provider_busy" in str(error):
            raise SlotTaken("Someone booked this time a moment ago. Pick another time.") from None
        raise


async def flush_or_conflict(session: AsyncSession) -> None:
    """Flush changed appointments; a concurrent booking that won the time is a 409."""
    await _flush_or_conflict(session)


async def book(
    session: AsyncSession,
    *,
    actor: Actor,
    data: AppointmentCreate,
    via: str = "staff",
    series_id: uuid.UUID | None = None,
) -> Appointment:
    provider = await get_provider(session, data.provider_id)
    await check_works_at(session, provider.id, data.location_id)
    kind = await get_type(session, data.type_id)
    patient = await get_writable_patient(session, data.patient_id, actor=actor)
    start = data.starts_at
    ends_at, busy_until, overbooked = await _place(
        session,
        actor=actor,
        provider_id=provider.id,
        location_id=data.location_id,
        kind=kind,
        start=start,
        overbook=data.overbook,
        overbook_reason=data.overbook_reason,
        past_visit=data.record_past_visit,
    )
    past = data.record_past_visit and starts_in_past(start, now=utcnow())
    appointment = Appointment(
        patient_id=patient.id,
        provider_id=provider.id,
        location_id=data.location_id,
        type_id=kind.id,
        series_id=series_id,
        starts_at=start,
        ends_at=ends_at,
        busy_until=busy_until,
        status=AppointmentStatus.BOOKED,
        holds_slot=True,
        reason=data.reason,
        overbooked=overbooked,
        overbook_reason=data.overbook_reason if overbooked else None,
        booked_by_id=actor.user_id,
        booked_via=via,
    )
    session.add(appointment)
    await _flush_or_conflict(session)
    await audit.record(
        session,
        action="appointment.booked",
        actor=actor,
        resource_type="appointment",
        resource_id=appointment.id,
        patient_id=patient.id,
        changes=audit.changes(None, audit.snapshot(appointment)),
        details=_booking_details(overbooked, data.overbook_reason, past),
    )
    publish_after_commit(session, _event(appointment, "booked"))
    await appointment_changed.send(
        session, AppointmentChanged(actor=actor, appointment_id=appointment.id, action="booked")
    )
    return appointment


def _booking_details(overbooked: bool, reason: str | None, past: bool) -> dict[str, Any] | None:
    details: dict[str, Any] = {}
    if overbooked:
        details.update(overbooked=True, reason=reason)
    if past:
        details["past_visit"] = True
    return details or None


async def get_appointment(session: AsyncSession, appointment_id: uuid.UUID) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        raise AppointmentNotFound("No appointment with this id.")
    return appointment


async def read_appointment(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    """The appointment for ``actor`` to see, recorded as a read of its patient."""
    appointment = await get_appointment(session, appointment_id)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=appointment.patient_id,
        view="appointment",
        resource_type="appointment",
        resource_id=appointment.id,
    )
    return appointment


async def _record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment: Appointment,
    before: dict[str, Any],
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        action=f"appointment.{action}",
        actor=actor,
        resource_type="appointment",
        resource_id=appointment.id,
        patient_id=appointment.patient_id,
        changes=audit.changes(before, audit.snapshot(appointment)),
        details=details,
    )
    publish_after_commit(session, _event(appointment, action))
    await appointment_changed.send(
        session, AppointmentChanged(actor=actor, appointment_id=appointment.id, action=action)
    )


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment: Appointment,
    before: dict[str, Any],
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit entry and the live event ``appointment.<action>`` of a change."""
    await _record_change(
        session, actor=actor, appointment=appointment, before=before, action=action, details=details
    )


async def reschedule(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    data: AppointmentReschedule,
    expected_version: int | None,
) -> Appointment:
    """Move to another time (and optionally provider or location), with the same checks
    as a new booking; the appointment's own old time does not count as a conflict."""
    appointment = await get_appointment(session, appointment_id)
    check_version(appointment, expected_version)
    if appointment.status not in _ACTIVE:
        raise TransitionRefused(f"A {appointment.status} appointment cannot be moved.")
    provider_id = data.provider_id or appointment.provider_id
    location_id = data.location_id or appointment.location_id
    await check_works_at(session, provider_id, location_id)
    kind = await get_type(session, appointment.type_id)
    before = audit.snapshot(appointment)
    was = (appointment.provider_id, appointment.location_id)
    freed = (appointment.starts_at, appointment.busy_until)
    ends_at, busy_until, overbooked = await _place(
        session,
        actor=actor,
        provider_id=provider_id,
        location_id=location_id,
        kind=kind,
        start=data.starts_at,
        overbook=data.overbook,
        overbook_reason=data.overbook_reason,
        exclude=appointment.id,
    )
    appointment.provider_id = provider_id
    appointment.location_id = location_id
    appointment.starts_at = data.starts_at
    appointment.ends_at = ends_at
    appointment.busy_until = busy_until
    appointment.overbooked = overbooked
    appointment.overbook_reason = data.overbook_reason if overbooked else None
    await _flush_or_conflict(session)
    await _record_change(
        session, actor=actor, appointment=appointment, before=before, action="rescheduled"
    )
    await announce_freed_time(
        session, actor=actor, provider_id=was[0], location_id=was[1], freed=freed
    )
    return appointment


async def _set_status(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    status: AppointmentStatus,
    expected_version: int | None,
    reason: str | None = None,
) -> Appointment:
    appointment = await get_appointment(session, appointment_id)
    check_version(appointment, expected_version)
    if appointment.status not in _ACTIVE and not (
        status == AppointmentStatus.NOSHOW and appointment.status == AppointmentStatus.ARRIVED
    ):
        raise TransitionRefused(
            f"A {appointment.status} appointment cannot be marked {status.value}."
        )
    if status == AppointmentStatus.NOSHOW and not no_show_allowed(appointment, now=utcnow()):
        local = appointment.starts_at.astimezone(
            await location_zone(session, appointment.location_id)
        )
        raise TransitionRefused(
            f"This appointment starts at {local:%H:%M} on {local:%a %d %b %Y}: mark a no-show "
            "only once its start time has passed. Cancel it if the patient will not come."
        )
    before = audit.snapshot(appointment)
    appointment.previous_status = appointment.status
    appointment.status = status
    appointment.status_changed_at = utcnow()
    appointment.holds_slot = status not in FREEING_STATUSES
    if status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at = appointment.status_changed_at
        appointment.cancelled_by_id = actor.user_id
        appointment.cancel_reason = reason
    await session.flush()
    action = "cancelled" if status == AppointmentStatus.CANCELLED else "noshow"
    await _record_change(
        session, actor=actor, appointment=appointment, before=before, action=action
    )
    await announce_freed_time(
        session,
        actor=actor,
        provider_id=appointment.provider_id,
        location_id=appointment.location_id,
        freed=(appointment.starts_at, appointment.busy_until),
    )
    return appointment


async def cancel(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> Appointment:
    return await _set_status(
        session,
        actor=actor,
        appointment_id=appointment_id,
        status=AppointmentStatus.CANCELLED,
        expected_version=expected_version,
        reason=reason,
    )


async def mark_no_show(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID, expected_version: int | None
) -> Appointment:
    return await _set_status(
        session,
        actor=actor,
        appointment_id=appointment_id,
        status=AppointmentStatus.NOSHOW,
        expected_version=expected_version,
    )


async def undo(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID, expected_version: int | None
) -> Appointment:
    """Take back a cancellation or no-show on the day it was made, if the time is still
    free (someone may have booked it meanwhile)."""
    appointment = await get_appointment(session, appointment_id)
    check_version(appointment, expected_version)
    changed = appointment.status_changed_at
    if (
        appointment.status not in _UNDOABLE
        or changed is None
        or appointment.previous_status is None
    ):
        raise TransitionRefused("Only a cancellation or a no-show can be undone.")
    zone = await location_zone(session, appointment.location_id)
    if changed.astimezone(zone).date() != utcnow().astimezone(zone).date():
        raise TransitionRefused("A cancellation or no-show can be undone only on the same day.")
    if not appointment.overbooked:
        taken = await conflicts(
            session,
            provider_id=appointment.provider_id,
            start=appointment.starts_at,
            busy_until=appointment.busy_until,
            exclude=appointment.id,
        )
        if taken:
            raise SlotTaken("The time was booked by someone else since; book a new time.")
    before = audit.snapshot(appointment)
    appointment.status = appointment.previous_status
    appointment.previous_status = None
    appointment.status_changed_at = utcnow()
    appointment.holds_slot = True
    appointment.cancelled_at = None
    appointment.cancelled_by_id = None
    appointment.cancel_reason = None
    await _flush_or_conflict(session)
    await _record_change(
        session, actor=actor, appointment=appointment, before=before, action="restored"
    )
    return appointment
