"""The demo clinic's appointment book: the doctor and the nurse as providers, their week at
both locations, five appointment types, the past month and the coming two weeks.

Planned here from a fixed seed around the day the demo is created (so the calendar always
shows "last month" and "next two weeks"; the same day gives the same plan), then written
through the scheduling services:

* every appointment, past or future, is booked with ``booking.book`` by the front desk,
  so the hours and overlap checks apply (past ones as recorded past visits,
  ``record_past_visit``: the service refuses a past time without it);
  a planned time that the checks refuse is skipped and counted, never fatal;
* past no-shows and cancellations then go through ``booking.mark_no_show`` and
  ``booking.cancel``; their ``status_changed_at`` / ``cancelled_at`` are then moved back
  to when it would have happened (a cancellation is undoable only on its own day, and a
  month-old one should not offer "undo");
* past visits that took place are set to ``fulfilled`` directly, with an
  ``appointment.fulfilled`` audit entry by the provider: no service fulfils an appointment
  yet (that is the check-in and encounter flow of later domains).

Times are planned on each provider's own timeline inside their hours, one after the other
with the type's buffer and small gaps, so none overlap and none is refused in practice.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity.service.common import get_user
from clinicdesk.patients.models import Patient
from clinicdesk.scheduling.errors import BookingRefused, OutsideHours, SlotTaken
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import booking, setup
from clinicdesk.scheduling.vocabulary import AppointmentStatus

SEED = 20_261_123
PAST_DAYS = 30
FUTURE_DAYS = 14

# --- what the clinic offers ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedType:
    name: str
    minutes: int
    buffer: int = 0
    online: bool = False
    color: str = "#0f766e"


TYPES = (
    PlannedType("New patient", 30, color="#7c3aed"),
    PlannedType("Follow-up", 15, color="#0f766e"),
    PlannedType("Sick visit", 20, color="#b45309"),
    PlannedType("Annual physical", 45, buffer=10, color="#1d4ed8"),
    PlannedType("Vaccination", 10, online=True, color="#be185d"),
)

MAIN, HILLVIEW = "main", "hillview"
Block = tuple[str, int, time, time]  # (location, weekday 0 = Monday, start, end)


def _week(
    location: str, weekdays: range | tuple[int, ...], *spans: tuple[time, time]
) -> list[Block]:
    return [(location, day, start, end) for day in weekdays for start, end in spans]


@dataclass(frozen=True, slots=True)
class PlannedProvider:
    key: str  # "doctor" | "nurse": which demo user
    specialty: str
    color: str
    default_minutes: int
    blocks: tuple[Block, ...]
    # Type name -> weight: what this provider's day is made of.
    mix: tuple[tuple[str, int], ...]
    # Share of the possible slots that are booked: in the past month, and tomorrow (the
    # share falls to a third of it two weeks out: later weeks fill up nearer the day).
    past_fill: float
    next_fill: float


PROVIDERS = (
    PlannedProvider(
        key="doctor",
        specialty="Family medicine",
        color="#2563eb",
        default_minutes=15,
        blocks=(
            *_week(MAIN, (0, 1, 3, 4), (time(8, 30), time(12, 30)), (time(13, 30), time(17, 30))),
            *_week(HILLVIEW, (2,), (time(9), time(13)), (time(14), time(17))),
        ),
        mix=(("Follow-up", 40), ("Sick visit", 25), ("New patient", 15), ("Annual physical", 20)),
        past_fill=0.6,
        next_fill=0.8,
    ),
    PlannedProvider(
        key="nurse",
        specialty="Nursing",
        color="#059669",
        default_minutes=10,
        blocks=(
            *_week(MAIN, range(4), (time(8), time(12)), (time(13), time(16))),
            *_week(HILLVIEW, (4,), (time(8, 30), time(12, 30))),
        ),
        mix=(("Vaccination", 65), ("Follow-up", 35)),
        past_fill=0.3,
        next_fill=0.45,
    ),
)
# Minutes left free after a visit (running late, paperwork), most often none.
GAPS = (0, 0, 0, 0, 5, 5, 10, 15)
REASONS = {
    "New patient": ("Establish care", "New to the area, needs a family doctor", "Transfer of care"),
    "Follow-up": (
        "Blood pressure check",
        "Review lab results",
        "Diabetes follow-up",
        "Medication review",
        "Wound check",
    ),
    "Sick visit": ("Cough for five days", "Sore throat and fever", "Back pain", "Rash on arm"),
    "Annual physical": ("Annual physical", "Annual physical and fasting labs"),
    "Vaccination": ("Flu shot", "COVID-19 booster", "Tdap booster", "Shingles vaccine, dose 2"),
}
CANCEL_REASONS = (
    "Patient called to cancel",
    "Feeling better",
    "Work conflict, will call back",
    "No transport",
)
NO_SHOW_SHARE = 0.08
CANCEL_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class PlannedAppointment:
    provider: str  # PlannedProvider.key
    location: str
    type_name: str
    starts_at: datetime  # aware, the location's zone
    patient_index: int  # into the demo patients, in MRN order
    outcome: AppointmentStatus  # booked, fulfilled, noshow or cancelled
    reason: str
    cancel_reason: str | None = None
    cancelled_before: timedelta | None = None  # how long before the start it was cancelled


# --- the plan --------------------------------------------------------------------------


def plan_schedule(
    now: datetime, zone: ZoneInfo, patient_count: int, *, seed: int = SEED
) -> list[PlannedAppointment]:
    """The appointments of ``PAST_DAYS`` days before ``now``'s date to ``FUTURE_DAYS`` days
    after it. What starts before ``now`` has an outcome (mostly fulfilled); what starts
    later is booked. Per provider and day, appointments follow one another inside the
    hours (type duration + buffer + a gap), so none overlap."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    durations = {t.name: (t.minutes, t.buffer) for t in TYPES}
    today = now.astimezone(zone).date()
    planned: list[PlannedAppointment] = []
    for provider in PROVIDERS:
        names = [name for name, _ in provider.mix]
        weights = [weight for _, weight in provider.mix]
        for offset in range(-PAST_DAYS, FUTURE_DAYS):
            day = today + timedelta(days=offset)
            fill = (
                provider.past_fill
                if offset < 0
                else provider.next_fill * (1 - offset / (1.5 * FUTURE_DAYS))
            )
            for location, weekday, start, end in provider.blocks:
                if weekday != day.weekday():
                    continue
                cursor = datetime.combine(day, start, tzinfo=zone)
                stop = datetime.combine(day, end, tzinfo=zone)
                while True:
                    name = rng.choices(names, weights)[0]
                    minutes, buffer = durations[name]
                    starts_at = cursor
                    if starts_at + timedelta(minutes=minutes + buffer) > stop:
                        break
                    cursor = starts_at + timedelta(minutes=minutes + buffer + rng.choice(GAPS))
                    if rng.random() >= fill:
                        continue
                    planned.append(
                        _appointment(
                            rng, provider.key, location, name, starts_at, now, patient_count
                        )
                    )
    return planned


def _appointment(
    rng: random.Random,
    provider: str,
    location: str,
    type_name: str,
    starts_at: datetime,
    now: datetime,
    patient_count: int,
) -> PlannedAppointment:
    outcome, cancel_reason, cancelled_before = AppointmentStatus.BOOKED, None, None
    if starts_at < now:
        draw = rng.random()
        if draw < NO_SHOW_SHARE:
            outcome = AppointmentStatus.NOSHOW
        elif draw < NO_SHOW_SHARE + CANCEL_SHARE:
            outcome = AppointmentStatus.CANCELLED
            cancel_reason = rng.choice(CANCEL_REASONS)
            cancelled_before = timedelta(hours=rng.randint(2, 72))
        else:
            outcome = AppointmentStatus.FULFILLED
    return PlannedAppointment(
        provider=provider,
        location=location,
        type_name=type_name,
        starts_at=starts_at,
        patient_index=rng.randrange(patient_count),
        outcome=outcome,
        reason=rng.choice(REASONS[type_name]),
        cancel_reason=cancel_reason,
        cancelled_before=cancelled_before,
    )


# --- writing it ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoSchedule:
    providers: tuple[uuid.UUID, ...]
    types: tuple[uuid.UUID, ...]
    booked: int  # appointments written, whatever their status now
    skipped: int  # planned times the booking checks refused
    by_status: tuple[tuple[str, int], ...]


async def seed_demo_schedule(
    session: AsyncSession,
    *,
    admin: Actor,
    front_desk: Actor,
    doctor: Actor,
    nurse: Actor,
    locations: dict[str, uuid.UUID],
    zone: ZoneInfo,
    now: datetime | None = None,
    seed: int = SEED,
) -> DemoSchedule:
    """Providers, hours and types (set up by ``admin``) and the planned appointments
    (booked by ``front_desk``) in the session's organization. ``locations``: the ids of
    ``MAIN`` and ``HILLVIEW``; ``zone``: their time zone (the organization's). Needs the
    demo patients registered first (picked by position in MRN order)."""
    actors = {"doctor": doctor, "nurse": nurse}
    provider_ids: dict[str, uuid.UUID] = {}
    for planned in PROVIDERS:
        actor = actors[planned.key]
        if actor.user_id is None:
            raise ValueError(f"the demo {planned.key} must be a user")
        user = await get_user(session, actor.user_id)
        where = list(dict.fromkeys(locations[location] for location, *_ in planned.blocks))
        provider = await setup.create_provider(
            session,
            actor=admin,
            data=ProviderWrite(
                user_id=user.id,
                display_name=user.full_name,
                specialty=planned.specialty,
                color=planned.color,
                default_duration_minutes=planned.default_minutes,
                location_ids=where,
            ),
        )
        blocks = [
            HoursBlock(location_id=locations[location], weekday=day, start_time=s, end_time=e)
            for location, day, s, e in planned.blocks
        ]
        await setup.set_weekly_hours(
            session,
            actor=admin,
            provider_id=provider.id,
            data=WeeklyHoursWrite(blocks=blocks),
        )
        provider_ids[planned.key] = provider.id
    type_ids: dict[str, uuid.UUID] = {}
    for kind in TYPES:
        created = await setup.create_type(
            session,
            actor=admin,
            data=AppointmentTypeWrite(
                name=kind.name,
                duration_minutes=kind.minutes,
                buffer_after_minutes=kind.buffer,
                online_bookable=kind.online,
                color=kind.color,
            ),
        )
        type_ids[kind.name] = created.id

    patients = list(await session.scalars(select(Patient.id).order_by(Patient.mrn)))
    if not patients:
        raise ValueError("register the demo patients before their appointments")
    plan = plan_schedule(now or utcnow(), zone, len(patients), seed=seed)
    counts: dict[str, int] = {}
    skipped = 0
    for planned_appointment in plan:
        try:
            appointment = await booking.book(
                session,
                actor=front_desk,
                data=AppointmentCreate(
                    patient_id=patients[planned_appointment.patient_index],
                    provider_id=provider_ids[planned_appointment.provider],
                    location_id=locations[planned_appointment.location],
                    type_id=type_ids[planned_appointment.type_name],
                    starts_at=planned_appointment.starts_at,
                    reason=planned_appointment.reason,
                    record_past_visit=True,
                ),
            )
        except (SlotTaken, OutsideHours, BookingRefused):
            # Refused by the checks before anything was written: the session is intact.
            skipped += 1
            continue
        counts[planned_appointment.outcome] = counts.get(planned_appointment.outcome, 0) + 1
        await _conclude(
            session,
            appointment,
            planned_appointment,
            front_desk=front_desk,
            clinician=actors[planned_appointment.provider],
        )
    await session.flush()
    return DemoSchedule(
        providers=tuple(provider_ids.values()),
        types=tuple(type_ids.values()),
        booked=sum(counts.values()),
        skipped=skipped,
        by_status=tuple(sorted(counts.items())),
    )


async def _conclude(
    session: AsyncSession,
    appointment: Appointment,
    planned: PlannedAppointment,
    *,
    front_desk: Actor,
    clinician: Actor,
) -> None:
    """Give a past appointment its outcome."""
    if planned.outcome == AppointmentStatus.NOSHOW:
        await booking.mark_no_show(
            session, actor=front_desk, appointment_id=appointment.id, expected_version=None
        )
        appointment.status_changed_at = appointment.starts_at + timedelta(minutes=15)
    elif planned.outcome == AppointmentStatus.CANCELLED:
        await booking.cancel(
            session,
            actor=front_desk,
            appointment_id=appointment.id,
            reason=planned.cancel_reason or "Patient called to cancel",
            expected_version=None,
        )
        cancelled_at = appointment.starts_at - (planned.cancelled_before or timedelta(days=1))
        appointment.cancelled_at = appointment.status_changed_at = cancelled_at
    elif planned.outcome == AppointmentStatus.FULFILLED:
        before = audit.snapshot(appointment)
        appointment.status = AppointmentStatus.FULFILLED
        appointment.status_changed_at = appointment.ends_at
        await session.flush()
        await audit.record(
            session,
            action="appointment.fulfilled",
            actor=clinician,
            resource_type="appointment",
            resource_id=appointment.id,
            patient_id=appointment.patient_id,
            changes=audit.changes(before, audit.snapshot(appointment)),
        )
