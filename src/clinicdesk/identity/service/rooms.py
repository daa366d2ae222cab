"""The rooms of a location: where patients are called to (the queue screens offer them,
the waiting-room display shows them). Kept on the location, one change at a time, each
audited as a change of the location and checked against the version the page read."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version
from clinicdesk.identity.errors import RoomRefused
from clinicdesk.identity.models import Location
from clinicdesk.identity.schemas import MAX_ROOMS, RoomWrite
from clinicdesk.identity.service.organizations import get_location


async def _change(
    session: AsyncSession, *, actor: Actor, location: Location, rooms: list[str]
) -> Location:
    before = audit.snapshot(location)
    location.rooms = rooms
    await session.flush()
    await audit.record(
        session,
        action="location.updated",
        actor=actor,
        resource_type="location",
        resource_id=location.id,
        changes=audit.changes(before, audit.snapshot(location)),
    )
    return location


async def add_room(
    session: AsyncSession,
    *,
    actor: Actor,
    location_id: uuid.UUID,
    data: RoomWrite,
    expected_version: int | None,
) -> Location:
    """Add a room at the end of the location's list. Names are unique per location
    without regard to case ("Room 3" and "room 3" are one room)."""
    location = await get_location(session, location_id)
    check_version(location, expected_version)
    rooms = list(location.rooms or [])
    if any(room.casefold() == data.name.casefold() for room in rooms):
        raise RoomRefused(f"{location.name} already has a room called {data.name!r}.")
    if len(rooms) >= MAX_ROOMS:
        raise RoomRefused(f"A location has at most {MAX_ROOMS} rooms; remove one first.")
    return await _change(session, actor=actor, location=location, rooms=[*rooms, data.name])


async def remove_room(
    session: AsyncSession,
    *,
    actor: Actor,
    location_id: uuid.UUID,
    name: str,
    expected_version: int | None,
) -> Location:
    """Remove a room. Visits called to it keep it in their history; providers who used
    it are offered another room on their next call."""
    location = await get_location(session, location_id)
    check_version(location, expected_version)
    rooms = list(location.rooms or [])
    if name not in rooms:
        raise RoomRefused(f"{location.name} has no room {name!r} (any more); reload the page.")
    return await _change(
        session, actor=actor, location=location, rooms=[r for r in rooms if r != name]
    )
