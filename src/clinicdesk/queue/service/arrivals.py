"""What the front desk needs beside the queues: who is booked today at a location and
has not arrived yet (one click checks them in), and the screen's fixed choices (the
location's providers, rooms, appointment types, time zone).

Reads only, through the scheduling, patients and identity services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import Location
from clinicdesk.patients.public import patients_by_id
from clinicdesk.queue.errors import CheckInRefused
from clinicdesk.queue.service.board import Board, read_board
from clinicdesk.queue.service.providers import provider_of
from clinicdesk.queue.service.queues import busiest
from clinicdesk.queue.service.rooms import default_room, remembered_rooms
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.public import AppointmentType, Provider, location_zone
from clinicdesk.scheduling.vocabulary import AppointmentStatus

# Statuses a booked patient can be checked in from (``scheduling.mark_arrived``).
CHECKABLE = frozenset(
    {AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.BOOKED}
)
# The most expected arrivals one screen lists; the day list in the calendar has them all.
ARRIVALS_SHOWN = 50
# From this many minutes after the start, the desk shows a booked patient as late.
LATE_AFTER_MINUTES = 5


@dataclass(frozen=True, slots=True)
class Arrival:
    """A booked patient expected today who has not checked in."""

    appointment_id: uuid.UUID
    starts_at: datetime
    status: str
    patient_name: str
    provider_name: str
    type_name: str
    late_minutes: int  # 0 when not late yet

    @property
    def is_late(self) -> bool:
        """Late enough to say so at the desk (a couple of minutes is not late)."""
        return self.late_minutes >= LATE_AFTER_MINUTES

    @property
    def status_note(self) -> str | None:
        """The appointment's status when it is not simply booked (pending, proposed)."""
        return None if self.status == AppointmentStatus.BOOKED else self.status


@dataclass(slots=True)
class Expected:
    """Who is still expected today at a location (the first ``ARRIVALS_SHOWN``)."""

    location: Location
    zone: ZoneInfo
    arrivals: list[Arrival] = field(default_factory=list)
    more: int = 0  # beyond those listed


@dataclass(slots=True)
class Desk:
    """One location's queue screen: the board and what its forms offer."""

    board: Board
    locations: list[Location]
    zone: ZoneInfo
    providers: list[Provider]
    types: list[AppointmentType]
    expected: Expected | None = None
    # Provider -> the room they called to last here (``rooms.remembered_rooms``).
    usual_rooms: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def location(self) -> Location:
        return self.board.location

    @property
    def rooms(self) -> list[str]:
        return list(self.board.location.rooms or [])

    def room_for(
        self, provider_id: uuid.UUID | None, called_before: str | None = None
    ) -> str | None:
        """The room a call form offers first: where the call would go without one."""
        remembered = self.usual_rooms.get(provider_id) if provider_id else None
        return default_room(self.rooms, called_before=called_before, remembered=remembered)


@dataclass(slots=True)
class MyDesk:
    """A provider's own screen: their desk at one of the locations they work at."""

    provider: Provider
    desk: Desk


async def expected_today(
    session: AsyncSession, *, actor: Actor, location_id: uuid.UUID, limit: int = ARRIVALS_SHOWN
) -> Expected:
    """Today's appointments at the location that can still be checked in, by start time,
    and how many more there are beyond ``limit``."""
    location = await identity.get_location(session, location_id)
    day = await scheduling.location_today(session, location_id)
    start, end = await scheduling.day_bounds(session, location_id, day)
    found = [
        a
        for a in await scheduling.appointments_between(
            session, actor=actor, start=start, end=end, location_id=location_id
        )
        if a.status in CHECKABLE
    ]
    shown = found[:limit]
    patients = await patients_by_id(session, {a.patient_id for a in shown})
    providers = {
        p.id: p.display_name for p in await scheduling.list_providers(session, active_only=False)
    }
    types = {t.id: t.name for t in await scheduling.list_types(session, active_only=False)}
    now = utcnow()
    arrivals = []
    for appointment in shown:
        patient = patients.get(appointment.patient_id)
        late = int((now - appointment.starts_at).total_seconds() // 60)
        arrivals.append(
            Arrival(
                appointment_id=appointment.id,
                starts_at=appointment.starts_at,
                status=appointment.status,
                patient_name=patient.display_name if patient else "—",
                provider_name=providers.get(appointment.provider_id, "—"),
                type_name=types.get(appointment.type_id, "—"),
                late_minutes=max(0, late),
            )
        )
    return Expected(
        location=location,
        zone=await location_zone(session, location_id),
        arrivals=arrivals,
        more=len(found) - len(shown),
    )


async def _desk(
    session: AsyncSession,
    location: Location,
    locations: list[Location],
    *,
    actor: Actor,
    arrivals: bool,
) -> Desk:
    board = await read_board(session, actor=actor, location_id=location.id)
    providers = [q.provider for q in board.queues if q.provider is not None]
    desk = Desk(
        board=board,
        locations=locations,
        zone=await location_zone(session, location.id),
        providers=providers,
        types=await scheduling.list_types(session),
        usual_rooms=await remembered_rooms(
            session, location_id=location.id, provider_ids=[p.id for p in providers]
        ),
    )
    if arrivals:
        desk.expected = await expected_today(session, actor=actor, location_id=location.id)
    return desk


async def front_desk(
    session: AsyncSession, *, actor: Actor, location_id: uuid.UUID | None, arrivals: bool = True
) -> Desk:
    """The chosen location's desk (by default the one with most patients in the
    building, else the first active location)."""
    locations = await identity.active_locations(session)
    if location_id is None and locations:
        location_id = await busiest(session, [loc.id for loc in locations])
    if location_id is not None:
        location = await identity.get_location(session, location_id)
    elif locations:
        location = locations[0]
    else:
        raise CheckInRefused("There is no location yet. An administrator adds one first.")
    return await _desk(session, location, locations, actor=actor, arrivals=arrivals)


async def my_desk(session: AsyncSession, *, actor: Actor, location_id: uuid.UUID | None) -> MyDesk:
    """The signed-in provider's desk at one of the locations they work at (the first by
    default). ``NotAProvider`` when the user has no provider record."""
    provider = await provider_of(session, actor)
    works_at = (await scheduling.provider_locations(session, [provider.id]))[provider.id]
    locations = [loc for loc in await identity.active_locations(session) if loc.id in works_at]
    if location_id is None and locations:
        location_id = await busiest(session, [loc.id for loc in locations])
    if location_id is not None and location_id in works_at:
        location = await identity.get_location(session, location_id)
    elif locations:
        location = locations[0]
    else:
        raise CheckInRefused(
            "You do not work at any location yet. An administrator adds your locations "
            "under Providers."
        )
    return MyDesk(
        provider=provider,
        desk=await _desk(session, location, locations, actor=actor, arrivals=False),
    )
