"""A provider's open time at a location: the weekly hours and the date exceptions,
turned into UTC intervals in the location's time zone."""

from __future__ import annotations

import uuid
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
    if not (in_window(start) and in_window(end)):
        # No one keeps hours outside the dates the application accepts, and the margins
        # below would overflow next to year 1 or 9999.
        return []
    zone = zone or await location_zone(session, location_id)
    # A day of margin on each side: local dates differ from UTC dates near midnight.
    first_day = (start.astimezone(zone) - timedelta(days=1)).date()
    last_day = (end.astimezone(zone) + timedelta(days=1)).date()
    rows = await session.scalars(
        select(WeeklyHours).where(
            WeeklyHours.provider_id == provider_id, WeeklyHours.location_id == location_id
        )
    )
    blocks = [
        WeeklyBlock(
            weekday=r.weekday,
            start=r.start_time,
            end=r.end_time,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
        )
        for r in rows
    ]
    exception_rows = await session.scalars(
        select(HoursException).where(
            HoursException.on_date >= first_day,
            HoursException.on_date <= last_day,
            or_(
                # The provider's own exceptions here or anywhere, and location holidays.
                (HoursException.provider_id == provider_id)
                & (
                    HoursException.location_id.is_(None)
                    | (HoursException.location_id == location_id)
                ),
                HoursException.provider_id.is_(None) & (HoursException.location_id == location_id),
            ),
        )
    )
    exceptions = [
        DateException(
            on=r.on_date,
            kind="extra" if r.kind == "extra" else "off",
            start=r.start_time,
            end=r.end_time,
        )
        for r in exception_rows
    ]
    return open_intervals(blocks, exceptions, zone=zone, start=start, end=end)
