"""Calendar dates as an organization writes them ("DD/MM/YYYY", "MM/DD/YYYY", ...), and
the window of dates and times the application accepts at all."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated

from pydantic import AfterValidator

ISO = "YYYY-MM-DD"
_PARTS = re.compile(r"^(\d{1,4})[./\-](\d{1,2})[./\-](\d{1,4})$")
_ORDER = {
    "YYYY-MM-DD": ("y", "m", "d"),
    "DD/MM/YYYY": ("d", "m", "y"),
    "MM/DD/YYYY": ("m", "d", "y"),
    "DD.MM.YYYY": ("d", "m", "y"),
}


def parse_local_date(text: str, date_format: str) -> date | None:
    """``text`` read in the organization's format, or as ISO (unambiguous: four-digit year
    first); None when it is not a real calendar date in the window. Any of ``/ . -``
    separates."""
    match = _PARTS.match(text.strip())
    if not match:
        return None
    first, second, third = match.groups()
    order = ("y", "m", "d") if len(first) == 4 else _ORDER.get(date_format, _ORDER[ISO])
    values = dict(zip(order, (first, second, third), strict=True))
    if len(values["y"]) != 4:
        return None
    try:
        found = date(int(values["y"]), int(values["m"]), int(values["d"]))
    except ValueError:
        return None
    return found if in_window(found) else None


def format_local_date(value: date | None, date_format: str) -> str:
    if value is None:
        return ""
    order = _ORDER.get(date_format, _ORDER[ISO])
    separator = "." if "." in date_format else "/" if "/" in date_format else "-"
    parts = {"y": f"{value.year:04d}", "m": f"{value.month:02d}", "d": f"{value.day:02d}"}
    return separator.join(parts[p] for p in order)


# --- the window of dates the application accepts -------------------------------------------
#
# Python's dates run from year 1 to 9999, but a clinic's do not: a booking in year 9999 or
# an onset in year 1 is a typing slip, and arithmetic near those ends (a day of margin, a
# time-zone shift, "plus 14 days") overflows. Every date and time that comes in (API,
# forms, query parameters) is checked against one window, so no service ever sees one
# outside it; birth dates have a narrower rule of their own on top.

EARLIEST = date(1800, 1, 1)
LATEST = date(2199, 12, 31)
_OUTSIDE = f"is outside the years {EARLIEST.year}-{LATEST.year}; check the year"


def in_window(value: date) -> bool:
    """Whether ``value`` (a date, or the local date of a datetime) is in the window."""
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST <= day <= LATEST


def _date_in_window(value: date) -> date:
    if not in_window(value):
        raise ValueError(f"the date {_OUTSIDE}")
    return value


def _datetime_in_window(value: datetime) -> datetime:
    if not in_window(value):
        raise ValueError(f"the time {_OUTSIDE}")
    return value


def _wall_clock(value: time) -> time:
    # Opening hours are wall-clock times in the location's zone; an offset on them would
    # make them incomparable with the others (and it means nothing there).
    if value.tzinfo is not None:
        raise ValueError("give a time of day without a UTC offset, e.g. 09:30")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-11-23T09:00:00-05:00")
    return value


Day = Annotated[date, AfterValidator(_date_in_window)]
"""A calendar date in the window."""
Moment = Annotated[datetime, AfterValidator(_datetime_in_window)]
"""A date and time in the window, with or without a UTC offset."""
AwareMoment = Annotated[datetime, AfterValidator(_aware), AfterValidator(_datetime_in_window)]
"""A date and time in the window, with its UTC offset (an instant)."""
WallTime = Annotated[time, AfterValidator(_wall_clock)]
"""A time of day without an offset (hours of a schedule)."""
