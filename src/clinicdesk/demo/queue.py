"""The demo clinic's front-desk queue: the visits behind the past month's fulfilled
appointments (so wait estimates have consultation lengths to learn from) and a queue in
progress today (so the board, the doctor's view and the display have something on them
whenever the demo is started).

Past visits are simulated from a fixed seed: patients arrive a little early, the
provider calls them when free, and each provider has their own pace (the doctor runs
longer than the booked durations, the nurse a little shorter). They are written as plain
rows without audit entries: they stand for history from before the demo existed.
Today's queue goes through the queue services like real check-ins, audited.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity.service import organizations
from clinicdesk.patients.models import Patient
from clinicdesk.queue.models import Visit, VisitStepRecord
from clinicdesk.queue.schemas import AppointmentCheckIn, PriorityRequest, WalkInCheckIn
from clinicdesk.queue.service import checkin, flow
from clinicdesk.queue.service.checkin import token_prefix
from clinicdesk.queue.vocabulary import Priority, VisitStatus, VisitStep
from clinicdesk.scheduling.models import Appointment, AppointmentType
from clinicdesk.scheduling.vocabulary import AppointmentStatus

SEED = 20_261_124
# How each provider's consultations run against the booked duration, and how much they
# vary (the sigma of a log-normal).
PACE = {"doctor": (1.25, 0.30), "nurse": (0.90, 0.25)}


@dataclass(frozen=True, slots=True)
class DemoQueue:
    past_visits: int
    today_visits: int


def _length(rng: random.Random, minutes: int, key: str) -> timedelta:
    bias, sigma = PACE[key]
    return timedelta(minutes=max(3.0, rng.lognormvariate(0, sigma) * minutes * bias))


async def _past_visits(
    session: AsyncSession,
    *,
    providers: dict[uuid.UUID, str],
    zone: ZoneInfo,
    today: date,
    rng: random.Random,
) -> int:
    fulfilled = (
        await session.scalars(
            select(Appointment)
            .where(Appointment.status == AppointmentStatus.FULFILLED)
            .order_by(Appointment.provider_id, Appointment.starts_at)
        )
    ).all()
    durations = {t.id: t.duration_minutes for t in await session.scalars(select(AppointmentType))}
    prefixes = {
        loc.id: token_prefix(loc.name) for loc in await organizations.list_locations(session)
    }
    tokens: dict[tuple[uuid.UUID, date], int] = {}
    free_at: dict[tuple[uuid.UUID, date], datetime] = {}
    written = 0
    for appointment in fulfilled:
        day = appointment.starts_at.astimezone(zone).date()
        if day >= today:
            continue  # today's are checked in for real below
        key = providers[appointment.provider_id]
        arrived = appointment.starts_at - timedelta(minutes=rng.uniform(-5, 15))
        ready = free_at.get((appointment.provider_id, day), arrived)
        called = max(arrived, ready, appointment.starts_at - timedelta(minutes=5))
        started = called + timedelta(minutes=rng.uniform(1, 3))
        finished = started + _length(rng, durations[appointment.type_id], key)
        free_at[(appointment.provider_id, day)] = finished
        number = tokens[(appointment.location_id, day)] = (
            tokens.get((appointment.location_id, day), 0) + 1
        )
        visit = Visit(
            location_id=appointment.location_id,
            patient_id=appointment.patient_id,
            appointment_id=appointment.id,
            provider_id=appointment.provider_id,
            type_id=appointment.type_id,
            service_date=day,
            token=f"{prefixes[appointment.location_id]}-{number:03d}",
            token_number=number,
            status=VisitStatus.DONE,
            order_key=appointment.starts_at,
            arrived_at=arrived,
            called_at=called,
            started_at=started,
            finished_at=finished,
        )
        session.add(visit)
        await session.flush()
        for step, at in (
            (VisitStep.CHECKED_IN, arrived),
            (VisitStep.CALLED, called),
            (VisitStep.STARTED, started),
            (VisitStep.FINISHED, finished),
        ):
            session.add(
                VisitStepRecord(
                    visit_id=visit.id, step=step, at=at, provider_id=appointment.provider_id
                )
            )
        written += 1
    await session.flush()
    return written


async def _today(
    session: AsyncSession,
    *,
    front_desk: Actor,
    clinicians: dict[uuid.UUID, Actor],
    main_location: uuid.UUID,
    now: datetime,
) -> int:
    """Check in who is due around now; the first of each provider is in consultation;
    two walk-ins at the main location (one a priority), so the board is never empty."""
    due = (
        await session.scalars(
            select(Appointment)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at >= now - timedelta(minutes=45),
                Appointment.starts_at < now + timedelta(minutes=40),
            )
            .order_by(Appointment.starts_at)
        )
    ).all()
    checked_in = 0
    first_of: dict[uuid.UUID, uuid.UUID] = {}
    for appointment in due:
        visit, _secret = await checkin.check_in_appointment(
            session, actor=front_desk, data=AppointmentCheckIn(appointment_id=appointment.id)
        )
        first_of.setdefault(appointment.provider_id, visit.id)
        checked_in += 1
    for provider_id, visit_id in first_of.items():
        clinician = clinicians[provider_id]
        await flow.call(session, actor=clinician, visit_id=visit_id, room=None)
        await flow.start(session, actor=clinician, visit_id=visit_id)
    walk_ins = (
        await session.scalars(select(Patient.id).order_by(Patient.mrn.desc()).limit(2))
    ).all()
    for n, patient_id in enumerate(walk_ins):
        visit, _secret = await checkin.check_in_walk_in(
            session,
            actor=front_desk,
            data=WalkInCheckIn(patient_id=patient_id, location_id=main_location),
        )
        if n == 1:
            await flow.set_priority(
                session,
                actor=front_desk,
                visit_id=visit.id,
                data=PriorityRequest(
                    priority=Priority.PRIORITY, reason="Over 80, walks with a cane"
                ),
            )
        checked_in += 1
    return checked_in


async def seed_demo_queue(
    session: AsyncSession,
    *,
    front_desk: Actor,
    doctor: Actor,
    nurse: Actor,
    provider_ids: tuple[uuid.UUID, uuid.UUID],
    main_location: uuid.UUID,
    zone: ZoneInfo,
    now: datetime | None = None,
    seed: int = SEED,
) -> DemoQueue:
    """``provider_ids``: the doctor's and the nurse's provider records, in that order."""
    now = now or utcnow()
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    providers = {provider_ids[0]: "doctor", provider_ids[1]: "nurse"}
    past = await _past_visits(
        session, providers=providers, zone=zone, today=now.astimezone(zone).date(), rng=rng
    )
    today = await _today(
        session,
        front_desk=front_desk,
        clinicians={provider_ids[0]: doctor, provider_ids[1]: nurse},
        main_location=main_location,
        now=now,
    )
    return DemoQueue(past_visits=past, today_visits=today)
