"""Next free slots: by type, location, optionally provider, date range, part of day.

Per provider: their open time in the range (weekly hours and exceptions), minus the
time their appointments hold (one indexed range query), swept in order; the earliest
slots of all providers win. Slots start on the provider's grid: every 5 minutes from
the start of an open block, so a 20-minute visit after a 10-minute one fits at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import utcnow
from clinicdesk.scheduling.availability import Interval, free_slots
from clinicdesk.scheduling.errors import BookingRefused
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.schemas import Slot, SlotQuery
from clinicdesk.scheduling.service.booking import LONGEST
from clinicdesk.scheduling.service.hours import location_zone, open_times
from clinicdesk.scheduling.service.setup import get_type, providers_at
from clinicdesk.scheduling.vocabulary import PartOfDay

STEP = timedelta(minutes=5)
MAX_DAYS = 92
PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    PartOfDay.MORNING: (time(0, 0), time(12, 0)),
    PartOfDay.AFTERNOON: (time(12, 0), time(17, 0)),
    PartOfDay.EVENING: (time(17, 0), time(23, 59, 59)),
}


async def busy_times(
    session: AsyncSession, *, provider_id: uuid.UUID, start: datetime, end: datetime
) -> list[Interval]:
    """The time the provider's appointments hold (with their buffers), in order."""
    found = await busy_times_of(session, provider_ids=[provider_id], start=start, end=end)
    return found[provider_id]


async def busy_times_of(
    session: AsyncSession, *, provider_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, list[Interval]]:
    """``busy_times`` of several providers, in one indexed statement."""
    found: dict[uuid.UUID, list[Interval]] = {provider_id: [] for provider_id in provider_ids}
    if not provider_ids:
        return found
    rows = await session.execute(
        select(Appointment.provider_id, Appointment.starts_at, Appointment.busy_until)
        .where(
            Appointment.provider_id.in_(provider_ids),
            Appointment.holds_slot.is_(True),
            Appointment.starts_at < end,
            Appointment.starts_at > start - LONGEST,
            Appointment.busy_until > start,
        )
        .order_by(Appointment.provider_id, Appointment.starts_at)
    )
    for provider_id, starts_at, busy_until in rows:
        found[provider_id].append((starts_at, busy_until))
    return found


async def find_slots(
    session: AsyncSession,
    *,
    query: SlotQuery,
    not_before: datetime | None = None,
    online_only: bool = False,
) -> list[Slot]:
    if query.end < query.start or (query.end - query.start).days > MAX_DAYS:
        raise BookingRefused(f"Search a range of up to {MAX_DAYS} days, end on or after start.")
    kind = await get_type(session, query.type_id)
    if online_only and not kind.online_bookable:
        raise BookingRefused("This kind of appointment cannot be booked online.")
    zone = await location_zone(session, query.location_id)
    start = datetime.combine(query.start, time(0), tzinfo=zone)
    end = datetime.combine(query.end + timedelta(days=1), time(0), tzinfo=zone)
    earliest = max(not_before or utcnow(), start)
    provider_ids = [
        provider.id
        for provider in await providers_at(session, query.location_id)
        if query.provider_id is None or provider.id == query.provider_id
    ]
    # Every provider's hours and appointments in three statements, not three each.
    hours = await open_times(
        session,
        provider_ids=provider_ids,
        location_id=query.location_id,
        start=start,
        end=end,
        zone=zone,
    )
    open_ids = [provider_id for provider_id in provider_ids if hours[provider_id]]
    busy = await busy_times_of(session, provider_ids=open_ids, start=start, end=end)
    found: list[Slot] = []
    for provider_id in open_ids:
        for slot_start, slot_end in free_slots(
            hours[provider_id],
            busy[provider_id],
            duration=timedelta(minutes=kind.duration_minutes),
            buffer_after=timedelta(minutes=kind.buffer_after_minutes),
            step=STEP,
            not_before=earliest,
            limit=query.limit,
            zone=zone,
            part_of_day=PARTS_OF_DAY.get(query.part_of_day) if query.part_of_day else None,
        ):
            found.append(
                Slot(
                    provider_id=provider_id,
                    location_id=query.location_id,
                    starts_at=slot_start,
                    ends_at=slot_end,
                )
            )
    found.sort(key=lambda s: (s.starts_at, str(s.provider_id)))
    return found[: query.limit]


@dataclass(frozen=True)
class Alternatives:
    """Free times to offer instead of a refused one: the same provider's next slots, and
    the next slots of the other providers at the location."""

    same: list[Slot]
    others: list[Slot]


async def alternatives(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    type_id: uuid.UUID,
    wanted: datetime,
    per_provider: int = 3,
    others_limit: int = 4,
    days: int = 14,
) -> Alternatives:
    """The next free slots from the refused time ``wanted`` (or now, if that is earlier),
    searched ``days`` ahead, by the same rules as ``find_slots``."""
    zone = await location_zone(session, location_id)
    not_before = max(wanted, utcnow())
    first_day = not_before.astimezone(zone).date()

    async def of(provider: uuid.UUID, limit: int) -> list[Slot]:
        query = SlotQuery(
            type_id=type_id,
            location_id=location_id,
            provider_id=provider,
            start=first_day,
            end=first_day + timedelta(days=days - 1),
            limit=limit,
        )
        return await find_slots(session, query=query, not_before=not_before)

    same = await of(provider_id, per_provider)
    others: list[Slot] = []
    for provider in await providers_at(session, location_id):
        if provider.id != provider_id:
            others.extend(await of(provider.id, 2))
    others.sort(key=lambda s: (s.starts_at, str(s.provider_id)))
    return Alternatives(same=same, others=others[:others_limit])
