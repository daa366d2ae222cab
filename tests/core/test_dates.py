"""The window of dates the application accepts, at its edges, and the opening-hours
service that used to overflow next to year 1 and 9999."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.dates import (
    EARLIEST,
    LATEST,
    AwareMoment,
    Day,
    Moment,
    WallTime,
    parse_local_date,
)
from clinicdesk.scheduling.service.hours import open_time


def test_the_window_keeps_its_edges_and_refuses_past_them() -> None:
    day = TypeAdapter(Day)
    assert day.validate_python(EARLIEST) == EARLIEST
    assert day.validate_python(LATEST) == LATEST
    for outside in (EARLIEST - timedelta(days=1), LATEST + timedelta(days=1), date.min, date.max):
        with pytest.raises(ValidationError, match="check the year"):
            day.validate_python(outside)
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))
    with pytest.raises(ValidationError, match="check the year"):
        TypeAdapter(Moment).validate_python(far)


def test_an_instant_has_an_offset_and_an_hour_has_none() -> None:
    with pytest.raises(ValidationError, match="UTC offset"):
        TypeAdapter(AwareMoment).validate_python("2030-01-07T09:00:00")
    assert TypeAdapter(WallTime).validate_python("09:30") == time(9, 30)
    with pytest.raises(ValidationError, match="without a UTC offset"):
        TypeAdapter(WallTime).validate_python("09:30+14:00")


def test_a_typed_date_outside_the_window_is_not_a_date() -> None:
    assert parse_local_date("31/12/9999", "DD/MM/YYYY") is None
    assert parse_local_date("0001-01-01", "YYYY-MM-DD") is None
    assert parse_local_date("02/01/1990", "DD/MM/YYYY") == date(1990, 1, 2)


@pytest.mark.parametrize(
    "start",
    [datetime(9999, 12, 31, 22, tzinfo=UTC), datetime(1, 1, 1, 1, tzinfo=UTC)],
    ids=["year 9999", "year 1"],
)
async def test_no_opening_hours_outside_the_window(session: AsyncSession, start: datetime) -> None:
    hours = await open_time(
        session,
        provider_id=uuid.uuid4(),
        location_id=uuid.uuid4(),
        start=start,
        end=start + timedelta(minutes=30),
        zone=ZoneInfo("Pacific/Kiritimati"),
    )
    assert hours == []
