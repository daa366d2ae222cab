"""A provider's open time at a location: the weekly hours and the date exceptions,
turned into UTC intervals in the location's time zone."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.dates import in_window
from clinicdesk.identity import public as identity
from clinicdesk.scheduling.availability import (
    DateException,
    Interval,
    WeeklyBlock,
    open_intervals,
)
from clinicdesk.scheduling.models import HoursException, WeeklyHours


async def location_zone(session: AsyncSession, location_id: uuid.UUID) -> ZoneInfo:
    """The location's time zone, or the organization's when the location has none."""
    location = await identity.get_location(session, location_id)
    if location.time_zone:
        return ZoneInfo(location.time_zone)
    organization = await identity.get_organization(session)
    return ZoneInfo(organization.time_zone)


async def open_time(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID,
    location_id: uuid.UUID,
    start: datetime,
    end: datetime,
    zone: ZoneInfo | None = None,
) -> list[Interval]:
    """When the provider sees patients at the location between ``start`` and ``end``;
    none outside the window of ``core.dates``."""
    found = await open_times(
        session,
        provider_ids=[provider_id],
        location_id=location_id,
        start=start,
        end=end,
        zone=zone,
    )
    return found[provider_id]


async def open_times(
    session: AsyncSession,
    *,
    provider_ids: Sequence[uuid.UUID],
    location_id: uuid.UUID,
    start: datetime,
    end: datetime,
    zone: ZoneInfo | None = None,
) -> dict[uuid.UUID, list[Interval]]:
    """``open_time`` of several providers at the location, read in two statements
    whatever their number (a location's slot search asks for all of them)."""
    if not provider_ids or not (in_window(start) and in_window(end)):
        # No one keeps hours outside the dates the application accepts, and the margins
        # below would overflow next to year 1 or 9999.
        return {provider_id: [] for provider_id in provider_ids}
    zone = zone or await location_zone(session, location_id)
    # A day of margin on each side: local dates differ from UTC dates near midnight.
    first_day = (start.astimezone(zone) - timedelta(days=1)).date()
    last_day = (end.astimezone(zone) + timedelta(days=1)).date()
    blocks: dict[uuid.UUID, list[WeeklyBlock]] = defaultdict(list)
    rows = await session.scalars(
        select(WeeklyHours).where(
            WeeklyHours.provider_id.in_(provider_ids), WeeklyHours.location_id == location_id
        )
    )
    for weekly in rows:
        blocks[weekly.provider_id].append(
            WeeklyBlock(
                weekday=weekly.weekday,
                start=weekly.start_time,
                end=weekly.end_time,
                valid_from=weekly.valid_from,
                valid_until=weekly.valid_until,
            )
        )
    exception_rows = await session.scalars(
        select(HoursException).where(
            HoursException.on_date >= first_day,
            HoursException.on_date <= last_day,
            or_(
                # The providers' own exceptions here or anywhere, and location holidays.
                HoursException.provider_id.in_(provider_ids)
                & (
                    HoursException.location_id.is_(None)
                    | (HoursException.location_id == location_id)
                ),
                HoursException.provider_id.is_(None) & (HoursException.location_id == location_id),
            ),
        )
    )
    holidays: list[DateException] = []
    exceptions: dict[uuid.UUID, list[DateException]] = defaultdict(list)
    for r in exception_rows:
        exception = DateException(
            on=r.on_date,
            kind="extra" if r.kind == "extra" else "off",
            start=r.start_time,
            end=r.end_time,
        )
        (holidays if r.provider_id is None else exceptions[r.provider_id]).append(exception)
    return {
        provider_id: open_intervals(
            blocks[provider_id],
            [*exceptions[provider_id], *holidays],
            zone=zone,
            start=start,
            end=end,
        )
        for provider_id in provider_ids
    }
