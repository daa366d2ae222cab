"""The day at a glance, for the home page: a location's appointments of today with where
each patient is now (still to come, waiting, called, in consultation), the day's counts
and the queue in one line; and a provider's own day (their queue, their appointments).

Reads only, through the scheduling, patients and identity public faces. Cheap on
purpose, because the home refreshes on every queue event: a fixed number of queries
whatever the size of the day, and no wait estimates (the queue screens make those).
The patients a summary names are recorded as read, once per request.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import Location
from clinicdesk.patients.public import Patient, patients_by_id
from clinicdesk.queue.errors import CheckInRefused
from clinicdesk.queue.models import Visit
from clinicdesk.queue.service.arrivals import CHECKABLE, LATE_AFTER_MINUTES
from clinicdesk.queue.service.common import EVENT_PREFIX
from clinicdesk.queue.service.providers import PROVIDER_STATUS_EVENT, provider_of
from clinicdesk.queue.service.queues import busiest, queue_order
from clinicdesk.queue.vocabulary import OPEN_STATUSES, VisitStatus, VisitStep
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.public import Appointment, Provider
from clinicdesk.scheduling.vocabulary import AppointmentStatus

# The most lines one summary lists; the day list and the queue screens have them all.
LINES_SHOWN = 40
# The live events after which a summary is out of date (a screen listens to these).
LIVE_EVENTS = (
    *(f"{EVENT_PREFIX}{step.value}" for step in VisitStep),
    PROVIDER_STATUS_EVENT,
    *(
        f"appointment.{kind}"
        for kind in ("booked", "arrived", "fulfilled", "rescheduled", "cancelled", "noshow")
    ),
)
# Appointment statuses after which the patient is no longer expected today.
_OVER = frozenset(
    {AppointmentStatus.FULFILLED, AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW}
)


@dataclass(frozen=True, slots=True)
class DayLine:
    """One of today's appointments and where its patient is now."""

    appointment_id: uuid.UUID
    starts_at: datetime
    patient_id: uuid.UUID
    patient_name: str
    provider_name: str
    type_name: str
    status: str  # the appointment's
    visit_status: str | None  # None: not checked in
    token: str | None
    late_minutes: int  # 0 when not late yet

    @property
    def can_check_in(self) -> bool:
        return self.visit_status is None and self.status in CHECKABLE

    @property
    def is_late(self) -> bool:
        return self.can_check_in and self.late_minutes >= LATE_AFTER_MINUTES

    @property
    def is_over(self) -> bool:
        """Seen, gone, cancelled or a no-show: nothing left to do today."""
        if self.visit_status is not None:
            return self.visit_status not in OPEN_STATUSES
        return self.status in _OVER


@dataclass(frozen=True, slots=True)
class QueueGlance:
    """The location's queue in one line."""

    waiting: int = 0
    called: int = 0
    in_consultation: int = 0
    done: int = 0
    left: int = 0
    longest_wait_minutes: int | None = None  # of those still waiting


@dataclass(slots=True)
class DeskDay:
    """A location's day for the front desk."""

    location: Location
    locations: list[Location]
    zone: ZoneInfo
    day: date
    now: datetime
    lines: list[DayLine]  # still expected or in the building, by time
    more: int  # of those, beyond the lines listed
    booked: int  # today's appointments that were not cancelled
    to_arrive: int  # of those, not checked in yet
    over: int  # seen, gone or no-show
    seen: int  # patients whose visit is done today
    queue: QueueGlance


@dataclass(frozen=True, slots=True)
class QueueLine:
    """A patient in a provider's queue."""

    visit_id: uuid.UUID
    patient_id: uuid.UUID
    name: str
    token: str
    status: str
    room: str | None
    priority: int
    waited_minutes: int
    since: datetime  # arrived, called or started: the latest step


@dataclass(slots=True)
class ProviderDay:
    """A provider's own day at one of the locations they work at."""

    provider: Provider
    location: Location
    locations: list[Location]  # where they work
    zone: ZoneInfo
    day: date
    now: datetime
    current: QueueLine | None = None
    called: list[QueueLine] = field(default_factory=list)
    waiting: list[QueueLine] = field(default_factory=list)
    walk_ins: int = 0  # unassigned, for the first provider free
    done: int = 0
    appointments: list[DayLine] = field(default_factory=list)
    more: int = 0


async def _zone_and_day(
    session: AsyncSession, location_id: uuid.UUID, now: datetime
) -> tuple[ZoneInfo, date, datetime, datetime]:
    """The location's zone, its today, and today's UTC bounds (one zone look-up)."""
    zone = await scheduling.location_zone(session, location_id)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    return zone, day, start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


async def _visits_of_day(session: AsyncSession, location_id: uuid.UUID, day: date) -> list[Visit]:
    """Everyone checked in at the location today, in queue order (a day is tens of rows)."""
    rows = await session.scalars(
        select(Visit).where(Visit.location_id == location_id, Visit.service_date == day)
    )
    return sorted(rows.all(), key=queue_order)


def _lines(
    appointments: Sequence[Appointment],
    visits: Sequence[Visit],
    now: datetime,
    *,
    patients: Mapping[uuid.UUID, Patient],
    providers: Mapping[uuid.UUID, str],
    types: Mapping[uuid.UUID, str],
) -> list[DayLine]:
    by_appointment = {v.appointment_id: v for v in visits if v.appointment_id is not None}
    lines = []
    for appointment in appointments:
        visit = by_appointment.get(appointment.id)
        patient = patients.get(appointment.patient_id)
        late = int((now - appointment.starts_at).total_seconds() // 60)
        lines.append(
            DayLine(
                appointment_id=appointment.id,
                starts_at=appointment.starts_at,
                patient_id=appointment.patient_id,
                patient_name=patient.display_name if patient else "—",
                provider_name=providers.get(appointment.provider_id, "—"),
                type_name=types.get(appointment.type_id, "—"),
                status=appointment.status,
                visit_status=visit.status if visit else None,
                token=visit.token if visit else None,
                late_minutes=max(0, late),
            )
        )
    return lines


async def _type_names(session: AsyncSession) -> dict[uuid.UUID, str]:
    return {t.id: t.name for t in await scheduling.list_types(session, active_only=False)}


def _seen(appointments: Sequence[Appointment], visits: Sequence[Visit]) -> int:
    """Finished visits, and appointments marked seen without a visit (booked before the
    queue was used, or marked on the calendar)."""
    visited = {v.appointment_id for v in visits}
    return sum(1 for v in visits if v.status == VisitStatus.DONE) + sum(
        1 for a in appointments if a.status == AppointmentStatus.FULFILLED and a.id not in visited
    )


def _glance(visits: Sequence[Visit], now: datetime) -> QueueGlance:
    counts = Counter(v.status for v in visits)
    waiting = [v for v in visits if v.status == VisitStatus.WAITING]
    longest = max(((now - v.arrived_at).total_seconds() for v in waiting), default=None)
    return QueueGlance(
        waiting=counts[VisitStatus.WAITING],
        called=counts[VisitStatus.CALLED],
        in_consultation=counts[VisitStatus.IN_CONSULTATION],
        done=counts[VisitStatus.DONE],
        left=counts[VisitStatus.LEFT],
        longest_wait_minutes=None if longest is None else max(0, int(longest // 60)),
    )


async def _chosen(
    session: AsyncSession,
    locations: list[Location],
    location_id: uuid.UUID | None,
    now: datetime,
    *,
    provider_id: uuid.UUID | None = None,
) -> Location:
    """The location asked for when it is one of ``locations``; else the one with most
    patients in the building; else the one with most appointments around now (of
    ``provider_id`` when given); else the first. A stale choice (a location closed since)
    falls back instead of failing: the home must always open."""
    if not locations:
        raise CheckInRefused("There is no location yet. An administrator adds one first.")
    ids = [loc.id for loc in locations]
    wanted = location_id if location_id in ids else await busiest(session, ids)
    if wanted is None and len(locations) > 1:
        # Before the first check-in of the day: where the day's bookings are.
        around = await scheduling.find_between(
            session,
            start=now - timedelta(hours=12),
            end=now + timedelta(hours=12),
            provider_id=provider_id,
        )
        booked = Counter(a.location_id for a in around if a.location_id in ids)
        wanted = booked.most_common(1)[0][0] if booked else None
    return next((loc for loc in locations if loc.id == wanted), locations[0])


async def desk_day(
    session: AsyncSession, *, actor: Actor, location_id: uuid.UUID | None
) -> DeskDay:
    """Today at a location for the front desk. ``CheckInRefused`` when the organization
    has no location yet."""
    locations = await identity.active_locations(session)
    now = utcnow()
    location = await _chosen(session, locations, location_id, now)
    zone, day, start, end = await _zone_and_day(session, location.id, now)
    found = [
        a
        for a in await scheduling.find_between(
            session, start=start, end=end, location_id=location.id
        )
        if a.status != AppointmentStatus.CANCELLED
    ]
    visits = await _visits_of_day(session, location.id, day)
    arrived = {v.appointment_id for v in visits if v.appointment_id is not None}
    providers = {
        p.id: p.display_name for p in await scheduling.list_providers(session, active_only=False)
    }
    lines = _lines(
        found,
        visits,
        now,
        patients=await patients_by_id(session, {a.patient_id for a in found}),
        providers=providers,
        types=await _type_names(session),
    )
    lines = [line for line in lines if not line.is_over]
    shown = lines[:LINES_SHOWN]
    await audit.record_list_read(
        session, actor=actor, patient_ids=[line.patient_id for line in shown], view="home"
    )
    return DeskDay(
        location=location,
        locations=locations,
        zone=zone,
        day=day,
        now=now,
        lines=shown,
        more=len(lines) - len(shown),
        booked=len(found),
        to_arrive=sum(1 for a in found if a.id not in arrived and a.status in CHECKABLE),
        over=len(found) - len(lines),
        seen=_seen(found, visits),
        queue=_glance(visits, now),
    )


def _queue_line(visit: Visit, name: str, now: datetime) -> QueueLine:
    since = visit.started_at or visit.called_at or visit.arrived_at
    return QueueLine(
        visit_id=visit.id,
        patient_id=visit.patient_id,
        name=name,
        token=visit.token,
        status=visit.status,
        room=visit.room,
        priority=visit.priority,
        waited_minutes=max(0, int((now - visit.arrived_at).total_seconds() // 60)),
        since=since,
    )


async def provider_day(
    session: AsyncSession, *, actor: Actor, location_id: uuid.UUID | None
) -> ProviderDay:
    """The signed-in provider's day at one of their locations: who is with them, called
    or waiting for them, how many walk-ins wait for the first provider free, and their
    appointments there today. ``NotAProvider`` for a user without a provider record,
    ``CheckInRefused`` for a provider who works nowhere yet."""
    provider = await provider_of(session, actor)
    works_at = (await scheduling.provider_locations(session, [provider.id]))[provider.id]
    locations = [loc for loc in await identity.active_locations(session) if loc.id in works_at]
    if not locations:
        raise CheckInRefused(
            "You do not work at any location yet. An administrator adds your locations "
            "under Providers."
        )
    now = utcnow()
    location = await _chosen(session, locations, location_id, now, provider_id=provider.id)
    zone, day, start, end = await _zone_and_day(session, location.id, now)
    visits = await _visits_of_day(session, location.id, day)
    mine = [v for v in visits if v.provider_id == provider.id and v.status in OPEN_STATUSES]
    appointments = [
        a
        for a in await scheduling.find_between(
            session, start=start, end=end, location_id=location.id, provider_id=provider.id
        )
        if a.status != AppointmentStatus.CANCELLED
    ]
    listed = appointments[:LINES_SHOWN]
    patients = await patients_by_id(
        session, {v.patient_id for v in mine} | {a.patient_id for a in listed}
    )
    result = ProviderDay(
        provider=provider, location=location, locations=locations, zone=zone, day=day, now=now
    )
    for visit in mine:
        patient = patients.get(visit.patient_id)
        line = _queue_line(visit, patient.display_name if patient else "—", now)
        if visit.status == VisitStatus.IN_CONSULTATION:
            result.current = line
        elif visit.status == VisitStatus.CALLED:
            result.called.append(line)
        else:
            result.waiting.append(line)
    result.walk_ins = sum(
        1 for v in visits if v.provider_id is None and v.status == VisitStatus.WAITING
    )
    result.done = _seen(appointments, [v for v in visits if v.provider_id == provider.id])
    result.appointments = _lines(
        listed,
        visits,
        now,
        patients=patients,
        providers={provider.id: provider.display_name},
        types=await _type_names(session),
    )
    result.more = len(appointments) - len(listed)
    await audit.record_list_read(
        session,
        actor=actor,
        patient_ids=[v.patient_id for v in mine] + [a.patient_id for a in listed],
        view="home",
    )
    return result
