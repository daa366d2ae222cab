"""Which room a call sends the patient to.

The rooms are the location's own list (identity keeps it; an admin edits it under
Settings → Rooms). A call names one of them, or none: then the room the visit was called
to before (calling again), else the room this provider called to last at this location
(``provider_rooms``, kept on the server so it follows them to any device), else the
location's first room. Only a location without any rooms calls without one, and the
screens say so with a link to the settings instead of sending the patient to the front
desk without a word.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.identity import public as identity
from clinicdesk.queue.errors import RoomUnknown
from clinicdesk.queue.models import ProviderRoom

ROOMS_SETTINGS = "/admin/settings/rooms"


async def remembered_rooms(
    session: AsyncSession, *, location_id: uuid.UUID, provider_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Provider -> the room they called to last at the location (those who have one)."""
    if not provider_ids:
        return {}
    rows = await session.execute(
        select(ProviderRoom.provider_id, ProviderRoom.room).where(
            ProviderRoom.location_id == location_id,
            ProviderRoom.provider_id.in_(provider_ids),
        )
    )
    return {row.provider_id: row.room for row in rows}


def _known(rooms: Sequence[str], name: str) -> str | None:
    """The location's spelling of ``name`` (rooms are matched without regard to case)."""
    wanted = name.strip().casefold()
    return next((room for room in rooms if room.casefold() == wanted), None)


async def room_for_call(
    session: AsyncSession,
    *,
    location_id: uuid.UUID,
    provider_id: uuid.UUID,
    asked: str | None,
    called_before: str | None = None,
) -> str | None:
    """The room a call goes to (see the module docstring); ``RoomUnknown`` (409) for a
    room the location does not have. None only when the location has no rooms."""
    location = await identity.get_location(session, location_id)
    rooms = list(location.rooms or [])
    if asked:
        found = _known(rooms, asked)
        if found is None:
            raise RoomUnknown(_unknown_message(location.name, asked, rooms))
        return found
    if not rooms:
        return None
    remembered = (
        await remembered_rooms(session, location_id=location_id, provider_ids=[provider_id])
    ).get(provider_id)
    return default_room(rooms, called_before=called_before, remembered=remembered)


def default_room(
    rooms: Sequence[str], *, called_before: str | None, remembered: str | None
) -> str | None:
    """The room a call without one goes to, and so the one its form offers first: the
    visit's room when calling again, else the provider's usual room, else the first
    (each only while the location still has it)."""
    for candidate in (called_before, remembered):
        found = _known(rooms, candidate) if candidate else None
        if found is not None:
            return found
    return rooms[0] if rooms else None


def _unknown_message(location: str, asked: str, rooms: Sequence[str]) -> str:
    if not rooms:
        return (
            f"{location} has no rooms set up, so there is no room {asked!r} to call to. "
            f"An administrator adds the rooms under Settings → Rooms ({ROOMS_SETTINGS})."
        )
    return f"{location} has no room {asked!r}. Choose one of: {', '.join(rooms)}."


async def remember_room(
    session: AsyncSession, *, provider_id: uuid.UUID, location_id: uuid.UUID, room: str
) -> None:
    """Keep ``room`` as the provider's room at the location. One statement, so that two
    calls at once (a double click) do not trip over the unique key."""
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = dialect.insert(ProviderRoom).values(
        id=new_id(),
        organization_id=current_tenant(session),
        provider_id=provider_id,
        location_id=location_id,
        room=room,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["provider_id", "location_id"],
            set_={"room": statement.excluded.room, "updated_at": now},
        )
    )
