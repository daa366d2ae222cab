"""Patients booking, moving and cancelling their own appointments in the portal, within
the organization's rules (``BookingPolicy``): minimum notice, how far ahead, the
cancellation window, how many open bookings. Staff rules (hours, no overlaps) apply as
for any booking; overbooking never."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.ratelimit import RateLimited, RateLimiter, Rule
from clinicdesk.scheduling.errors import AppointmentNotFound, BookingRefused
from clinicdesk.scheduling.models import Appointment, BookingPolicy
from clinicdesk.scheduling.policies import OPEN_STATUSES, check_portal_change
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentReschedule,
    BookingPolicyWrite,
    PortalBooking,
    Slot,
    SlotQuery,
)
from clinicdesk.scheduling.service import booking, slots
from clinicdesk.scheduling.service.setup import get_type

# A patient books a handful of times a year; this stops a script, not a person.
PORTAL_CHANGES = Rule("portal-booking", "10/hour")


async def get_policy(session: AsyncSession) -> BookingPolicy:
    """The organization's rules; until an admin changes them, the defaults (an unsaved
    row with version 0, so reading never writes)."""
    policy = await session.scalar(select(BookingPolicy))
    if policy is None:
        policy = BookingPolicy(**BookingPolicyWrite().model_dump(), version=0)
    return policy


async def update_policy(
    session: AsyncSession, *, actor: Actor, data: BookingPolicyWrite, expected_version: int | None
) -> BookingPolicy:
    policy = await get_policy(session)
    check_version(policy, expected_version)
    before = audit.snapshot(policy)
    for field, value in data.model_dump().items():
        setattr(policy, field, value)
    if inspect(policy).transient:
        session.add(policy)
    await session.flush()
    await audit.record(
        session,
        action="booking_policy.updated",
        actor=actor,
        resource_type="booking_policy",
        resource_id=policy.id,
        changes=audit.changes(before, audit.snapshot(policy)),
    )
    return policy


def _own_patient(actor: Actor) -> uuid.UUID:
    if actor.patient_id is None:
        raise BookingRefused("Only a patient's own portal account books here.")
    return actor.patient_id


async def _throttle(limiter: RateLimiter, actor: Actor) -> None:
    decision = await limiter.hit(PORTAL_CHANGES, str(actor.user_id))
    if not decision.allowed:
        raise RateLimited.from_decision(decision)


def _check_window(policy: BookingPolicy, start: datetime, *, now: datetime) -> None:
    if start < now + timedelta(hours=policy.min_notice_hours):
        raise BookingRefused(
            f"Online bookings need at least {policy.min_notice_hours} hours' notice. "
            "Call the clinic for an earlier time."
        )
    if start > now + timedelta(days=policy.max_days_ahead):
        raise BookingRefused(
            f"Online bookings can be made up to {policy.max_days_ahead} days ahead."
        )


async def open_slots(session: AsyncSession, *, actor: Actor, query: SlotQuery) -> list[Slot]:
    """Free slots a patient may book: online-bookable types, inside the policy window."""
    _own_patient(actor)
    policy = await get_policy(session)
    now = utcnow()
    last_day = (now + timedelta(days=policy.max_days_ahead)).date()
    if query.start > last_day:
        return []
    query = query.model_copy(update={"end": min(query.end, last_day)})
    found = await slots.find_slots(
        session,
        query=query,
        not_before=now + timedelta(hours=policy.min_notice_hours),
        online_only=True,
    )
    return [s for s in found if s.starts_at <= now + timedelta(days=policy.max_days_ahead)]


async def own_appointments(session: AsyncSession, *, actor: Actor) -> list[Appointment]:
    patient_id = _own_patient(actor)
    statement = (
        select(Appointment)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at.desc())
        .limit(100)
    )
    # The patient's own read, recorded like anyone's (they see it in "who viewed").
    await audit.record_read(session, actor=actor, patient_id=patient_id, view="appointments")
    return list((await session.scalars(statement)).all())


async def _own_appointment(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != _own_patient(actor):
        raise AppointmentNotFound("No appointment with this id.")
    return appointment


async def book_own(
    session: AsyncSession, *, actor: Actor, data: PortalBooking, limiter: RateLimiter
) -> Appointment:
    patient_id = _own_patient(actor)
    await _throttle(limiter, actor)
    policy = await get_policy(session)
    kind = await get_type(session, data.type_id)
    if not kind.online_bookable or not kind.is_active:
        raise BookingRefused("This kind of appointment cannot be booked online.")
    _check_window(policy, data.starts_at, now=utcnow())
    open_count = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(OPEN_STATUSES),
            Appointment.starts_at > utcnow(),
        )
    )
    if (open_count or 0) >= policy.max_open_bookings:
        raise BookingRefused(
            f"You already have {open_count} upcoming appointments; cancel one first or call "
            "the clinic."
        )
    return await booking.book(
        session,
        actor=actor,
        data=AppointmentCreate(
            patient_id=patient_id,
            provider_id=data.provider_id,
            location_id=data.location_id,
            type_id=kind.id,
            starts_at=data.starts_at,
            reason=data.reason,
        ),
        via="portal",
    )


async def cancel_own(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    reason: str,
    limiter: RateLimiter,
) -> Appointment:
    await _throttle(limiter, actor)
    appointment = await _own_appointment(session, actor, appointment_id)
    check_portal_change(await get_policy(session), appointment, now=utcnow())
    return await booking.cancel(
        session,
        actor=actor,
        appointment_id=appointment.id,
        reason=reason,
        expected_version=None,
    )


async def reschedule_own(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    starts_at: datetime,
    limiter: RateLimiter,
) -> Appointment:
    await _throttle(limiter, actor)
    appointment = await _own_appointment(session, actor, appointment_id)
    policy = await get_policy(session)
    check_portal_change(policy, appointment, now=utcnow())
    _check_window(policy, starts_at, now=utcnow())
    return await booking.reschedule(
        session,
        actor=actor,
        appointment_id=appointment.id,
        data=AppointmentReschedule(starts_at=starts_at),
        expected_version=None,
    )
