"""Recurring series: preview, book all at once, cancel or move this / following / all.

Rules:

* Every appointment of a series passes exactly the checks of a single booking (the
  provider's open hours at the location, no overlap with another appointment), through
  ``booking.check_time`` and ``booking.book``.
* Booking a series is all-or-nothing: one appointment that cannot be booked and nothing
  is booked (409 listing each problem), unless the request says ``skip_conflicts``; then
  the bookable ones are booked and the others listed as skipped.
* "this" is the appointment itself; "following" is it and the later ones of its series;
  "all" is every appointment of the series. Only active (proposed, pending, booked)
  appointments that have not started yet are changed by "following" and "all"; the past
  is never rewritten.
* A move shifts every appointment of the scope by the same *local* (wall-clock) offset,
  so a weekly 10:00 in New York moved by an hour is 11:00 on both sides of a daylight
  saving change. It is all-or-nothing too; the appointments being moved do not count as
  conflicts of each other.
* The series row keeps the rule as booked; later changes are per appointment, each with
  its audit entry, plus one series-level entry per request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients.public import get_patient, get_writable_patient
from clinicdesk.scheduling.availability import wall_time_to_utc
from clinicdesk.scheduling.errors import OutsideHours, SlotTaken, TimeInPast, TransitionRefused
from clinicdesk.scheduling.models import Appointment, AppointmentSeries, AppointmentType
from clinicdesk.scheduling.recurrence import RecurrenceRule, describe, occurrences, to_rrule
from clinicdesk.scheduling.schemas import AppointmentCreate
from clinicdesk.scheduling.series_schemas import (
    OccurrenceCheck,
    Scope,
    SeriesCreate,
    SeriesReschedule,
)
from clinicdesk.scheduling.service import booking
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.service.setup import check_works_at, get_provider, get_type
from clinicdesk.scheduling.vocabulary import AppointmentStatus

_ACTIVE = (AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.BOOKED)


@dataclass(frozen=True, slots=True)
class Plan:
    """A series about to be booked: its rule, zone, RRULE text and each appointment's check."""

    rule: RecurrenceRule
    zone: ZoneInfo
    rrule: str
    checks: list[OccurrenceCheck]

    @property
    def description(self) -> str:
        return describe(self.rule)

    @property
    def problems(self) -> list[OccurrenceCheck]:
        return [c for c in self.checks if not c.bookable]


@dataclass(frozen=True, slots=True)
class Booked:
    series: AppointmentSeries
    plan: Plan
    appointments: list[Appointment]


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _shifted(start: datetime, offset: timedelta, zone: ZoneInfo) -> datetime:
    """``start`` moved by ``offset`` of local wall-clock time (daylight saving rules of
    ``availability.wall_time_to_utc``)."""
    moved = _local(start, zone) + offset
    return wall_time_to_utc(moved.date(), moved.time(), zone)


async def _check(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    kind: AppointmentType,
    start: datetime,
    zone: ZoneInfo,
    moving: frozenset[uuid.UUID] = frozenset(),
    appointment_id: uuid.UUID | None = None,
    past_visit: bool = False,
) -> OccurrenceCheck:
    """Whether ``start`` passes the booking checks; appointments in ``moving`` (being moved
    in the same request) are not in the way."""
    end = start + timedelta(minutes=kind.duration_minutes)
    answer = OccurrenceCheck(
        starts_at=start, ends_at=end, bookable=True, appointment_id=appointment_id
    )
    try:
        await booking.check_time(
            session,
            actor=actor,
            provider_id=provider_id,
            location_id=location_id,
            kind=kind,
            start=start,
            exclude=appointment_id,
            past_visit=past_visit,
        )
    except (OutsideHours, TimeInPast) as refused:
        return answer.model_copy(
            update={"bookable": False, "problem": refused.code, "detail": refused.detail}
        )
    except SlotTaken as refused:
        ids = [uuid.UUID(i) for i in refused.extensions.get("conflicting_ids", [])]
        in_the_way = [i for i in ids if i not in moving]
        if not in_the_way:
            return answer
        first = min(
            [a for i in in_the_way if (a := await session.get(Appointment, i)) is not None],
            key=lambda a: a.starts_at,
        )
        local = first.starts_at.astimezone(zone)
        return answer.model_copy(
            update={
                "bookable": False,
                "problem": refused.code,
                "detail": (
                    f"Conflicts with appointment {first.id} at {local:%H:%M} on "
                    f"{local:%a %d %b %Y}."
                ),
                "conflicting_ids": in_the_way,
            }
        )
    return answer


def _refusal(problems: list[OccurrenceCheck], total: int, what: str) -> SlotTaken:
    return SlotTaken(
        f"{len(problems)} of the {total} appointments cannot be {what}; nothing was changed. "
        "Pick another time, or book the others with skip_conflicts.",
        conflicts=[p.model_dump(mode="json") for p in problems],
    )


async def preview(session: AsyncSession, *, actor: Actor, data: SeriesCreate) -> Plan:
    """Every appointment of the series and whether it can be booked; changes nothing."""
    await get_patient(session, data.patient_id, actor=actor)
    provider = await get_provider(session, data.provider_id)
    await check_works_at(session, provider.id, data.location_id)
    kind = await get_type(session, data.type_id)
    zone = await location_zone(session, data.location_id)
    rule = data.rule.rule()
    try:
        times = occurrences(
            rule,
            first=data.starts_at,
            duration=timedelta(minutes=kind.duration_minutes),
            zone=zone,
        )
    except ValueError as error:
        raise InvalidField("rule", str(error)) from None
    checks = [
        await _check(
            session,
            actor=actor,
            provider_id=provider.id,
            location_id=data.location_id,
            kind=kind,
            start=start,
            zone=zone,
            past_visit=data.record_past_visit,
        )
        for start, _end in times
    ]
    return Plan(
        rule=rule, zone=zone, rrule=to_rrule(rule, first=data.starts_at, zone=zone), checks=checks
    )


async def book_series(session: AsyncSession, *, actor: Actor, data: SeriesCreate) -> Booked:
    """Book every appointment of the series in the caller's transaction (see the module
    rules for conflicts and ``skip_conflicts``)."""
    patient = await get_writable_patient(session, data.patient_id, actor=actor)
    plan = await preview(session, actor=actor, data=data)
    problems = plan.problems
    if problems and (not data.skip_conflicts or len(problems) == len(plan.checks)):
        raise _refusal(problems, len(plan.checks), "booked")
    series = AppointmentSeries(
        rrule=plan.rrule, first_start=data.starts_at, time_zone=plan.zone.key
    )
    session.add(series)
    await session.flush()
    booked = [
        await booking.book(
            session,
            actor=actor,
            data=AppointmentCreate(
                patient_id=patient.id,
                provider_id=data.provider_id,
                location_id=data.location_id,
                type_id=data.type_id,
                starts_at=check.starts_at,
                reason=data.reason,
                record_past_visit=data.record_past_visit,
            ),
            series_id=series.id,
        )
        for check in plan.checks
        if check.bookable
    ]
    await audit.record(
        session,
        action="appointment_series.booked",
        actor=actor,
        resource_type="appointment_series",
        resource_id=series.id,
        patient_id=patient.id,
        changes=audit.changes(None, audit.snapshot(series)),
        details={
            "appointment_ids": [a.id for a in booked],
            "skipped": [p.starts_at for p in problems],
        },
    )
    return Booked(series=series, plan=plan, appointments=booked)


async def _series_of(session: AsyncSession, appointment: Appointment) -> AppointmentSeries:
    series = (
        await session.get(AppointmentSeries, appointment.series_id)
        if appointment.series_id is not None
        else None
    )
    if series is None:
        raise TransitionRefused("This appointment is not part of a series.")
    return series


async def _in_scope(session: AsyncSession, anchor: Appointment, scope: Scope) -> list[Appointment]:
    if scope == "this":
        if anchor.status not in _ACTIVE:
            raise TransitionRefused(f"A {anchor.status} appointment cannot be changed.")
        return [anchor]
    statement = select(Appointment).where(
        Appointment.series_id == anchor.series_id,
        Appointment.status.in_(_ACTIVE),
        Appointment.starts_at > utcnow(),
    )
    if scope == "following":
        statement = statement.where(Appointment.starts_at >= anchor.starts_at)
    found = list((await session.scalars(statement.order_by(Appointment.starts_at))).all())
    if not found:
        raise TransitionRefused("No upcoming appointment of this series is left to change.")
    return found


async def _record_series(
    session: AsyncSession,
    *,
    actor: Actor,
    series: AppointmentSeries,
    anchor: Appointment,
    action: str,
    details: dict[str, object],
) -> None:
    await audit.record(
        session,
        action=f"appointment_series.{action}",
        actor=actor,
        resource_type="appointment_series",
        resource_id=series.id,
        patient_id=anchor.patient_id,
        details=details,
    )


async def cancel_in_series(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    scope: Scope,
    reason: str,
    expected_version: int | None,
) -> tuple[AppointmentSeries, list[Appointment]]:
    """Cancel the appointments of the scope, each as a single cancellation would (audit,
    event, its time offered to the waitlist)."""
    anchor = await booking.get_appointment(session, appointment_id)
    check_version(anchor, expected_version)
    series = await _series_of(session, anchor)
    targets = await _in_scope(session, anchor, scope)
    cancelled = [
        await booking.cancel(
            session, actor=actor, appointment_id=a.id, reason=reason, expected_version=None
        )
        for a in targets
    ]
    await _record_series(
        session,
        actor=actor,
        series=series,
        anchor=anchor,
        action="cancelled",
        details={"scope": scope, "appointment_ids": [a.id for a in cancelled]},
    )
    return series, cancelled


async def reschedule_in_series(
    session: AsyncSession,
    *,
    actor: Actor,
    appointment_id: uuid.UUID,
    data: SeriesReschedule,
    expected_version: int | None,
) -> tuple[AppointmentSeries, list[Appointment]]:
    """Move the appointments of the scope by one local offset, all or none (409 listing
    every appointment that would not fit). The time they leave is offered to the
    waitlist once every move is done, so no offer lands on time the series takes back."""
    anchor = await booking.get_appointment(session, appointment_id)
    check_version(anchor, expected_version)
    series = await _series_of(session, anchor)
    targets = await _in_scope(session, anchor, data.scope)
    zone = await location_zone(session, anchor.location_id)
    if data.starts_at is not None:
        offset = _local(data.starts_at, zone) - _local(anchor.starts_at, zone)
    else:
        offset = timedelta(minutes=data.shift_minutes or 0)
    if not offset:
        raise TransitionRefused("The new time is the same as the old one.")
    moving = frozenset(a.id for a in targets)
    plans: list[tuple[Appointment, AppointmentType, OccurrenceCheck]] = []
    for appointment in targets:
        kind = await get_type(session, appointment.type_id)
        check = await _check(
            session,
            actor=actor,
            provider_id=appointment.provider_id,
            location_id=appointment.location_id,
            kind=kind,
            start=_shifted(appointment.starts_at, offset, zone),
            zone=zone,
            moving=moving,
            appointment_id=appointment.id,
        )
        plans.append((appointment, kind, check))
    problems = [check for _a, _k, check in plans if not check.bookable]
    if problems:
        raise _refusal(problems, len(plans), "moved")
    # Moving the last one first (or the first one first, going back) keeps every row
    # clear of the others at each step, as PostgreSQL's exclusion constraint demands.
    plans.sort(key=lambda plan: plan[0].starts_at, reverse=offset > timedelta(0))
    freed: list[tuple[uuid.UUID, uuid.UUID, tuple[datetime, datetime]]] = []
    for appointment, kind, check in plans:
        before = audit.snapshot(appointment)
        freed.append(
            (
                appointment.provider_id,
                appointment.location_id,
                (appointment.starts_at, appointment.busy_until),
            )
        )
        appointment.starts_at = check.starts_at
        appointment.ends_at = check.ends_at
        appointment.busy_until = check.ends_at + timedelta(minutes=kind.buffer_after_minutes)
        await booking.flush_or_conflict(session)
        await booking.record_change(
            session,
            actor=actor,
            appointment=appointment,
            before=before,
            action="rescheduled",
            details={"series_id": str(series.id), "scope": data.scope},
        )
    for provider_id, location_id, interval in freed:
        await booking.announce_freed_time(
            session, actor=actor, provider_id=provider_id, location_id=location_id, freed=interval
        )
    moved = sorted((plan[0] for plan in plans), key=lambda a: a.starts_at)
    await _record_series(
        session,
        actor=actor,
        series=series,
        anchor=anchor,
        action="rescheduled",
        details={
            "scope": data.scope,
            "offset_minutes": int(offset.total_seconds() // 60),
            "appointment_ids": [a.id for a in moved],
        },
    )
    return series, moved
