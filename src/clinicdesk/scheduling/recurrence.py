"""Recurring appointment series: the rule, its occurrences, its RRULE text and its wording.

Rules:

* Occurrences keep the first one's *local* wall-clock time in the location's zone: a
  weekly 10:00 in New York is 15:00Z in winter and 14:00Z in summer. On a date where that
  wall time is ambiguous or skipped, the availability rules apply (first occurrence; moved
  forward to the change). ``duration`` is real elapsed time.
* ``first`` is the first occurrence and must match the rule: a weekly series on Monday and
  Wednesday cannot start on a Tuesday (RFC 5545 leaves that case undefined).
* A series ends after ``count`` occurrences or on ``until`` (inclusive, local date), never
  both, and holds at most ``MAX_OCCURRENCES`` appointments.
* Monthly series repeat on the first date's day of the month; months without that day are
  skipped, as RFC 5545 and dateutil do: monthly from 31 January gives 31 January, 31 March,
  31 May... and ``count`` counts only real occurrences.
* Weeks start on Monday (RFC 5545's default ``WKST``), which matters for "every 2 weeks on
  Monday and Sunday".
* ``to_rrule`` writes ``UNTIL`` in UTC (required when ``DTSTART`` has a time zone) as the
  last second of the local until-date, so reading it back needs the zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Final, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule

from clinicdesk.core.dates import ISO, format_local_date
from clinicdesk.scheduling.availability import Interval, wall_time_to_utc

MAX_OCCURRENCES: Final = 200
MAX_INTERVAL: Final = 52

Frequency = Literal["daily", "weekly", "monthly"]

_FREQ_CODES: Final[dict[str, Frequency]] = {
    "DAILY": "daily",
    "WEEKLY": "weekly",
    "MONTHLY": "monthly",
}
_DATEUTIL_FREQ: Final[dict[str, Literal[0, 1, 2, 3, 4, 5, 6]]] = {
    "daily": DAILY,
    "weekly": WEEKLY,
    "monthly": MONTHLY,
}
_DAY_CODES: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_UNITS: Final = {"daily": "day", "weekly": "week", "monthly": "month"}
_UNTIL_FORMAT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_LAST_SECOND: Final = time(23, 59, 59)


@dataclass(frozen=True, slots=True)
class RecurrenceRule:
    """Every ``interval`` days, weeks or months, ``count`` times or until a local date.

    ``weekdays`` (weekly only; 0 = Monday) are stored sorted without repeats; empty means
    the first date's weekday.
    """

    frequency: Frequency
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    until: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.frequency not in _DATEUTIL_FREQ:
            raise ValueError("A series repeats daily, weekly or monthly.")
        if not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"Repeat every 1 to {MAX_INTERVAL} {_UNITS[self.frequency]}s.")
        if (self.until is None) == (self.count is None):
            raise ValueError(
                "Say when the series ends: either a number of appointments or an end date."
            )
        if isinstance(self.until, datetime):
            raise ValueError("The end of a series is a date, without a time.")
        if self.count is not None and not 1 <= self.count <= MAX_OCCURRENCES:
            raise ValueError(
                f"A series holds 1 to {MAX_OCCURRENCES} appointments; "
                "book a longer one in several parts."
            )
        if self.weekdays and self.frequency != "weekly":
            raise ValueError("Days of the week can only be chosen for a weekly series.")
        if any(not 0 <= day <= 6 for day in self.weekdays):
            raise ValueError("Days of the week are 0 (Monday) to 6 (Sunday).")
        object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))


def occurrences(
    rule: RecurrenceRule, *, first: datetime, duration: timedelta, zone: ZoneInfo
) -> list[Interval]:
    """Every appointment of the series as a UTC interval, the first one being ``first``.

    Raises ``ValueError`` (with a message for the front desk) when the end date comes
    before the first appointment, the first appointment is not on one of the series'
    weekdays, or the series would hold more than ``MAX_OCCURRENCES`` appointments.
    """
    if duration <= timedelta(0):
        raise ValueError("An appointment must last some time.")
    start_utc = _aware_utc(first)
    local_start = start_utc.astimezone(zone).replace(tzinfo=None)
    if rule.until is not None and rule.until < local_start.date():
        raise ValueError(
            f"The series ends ({rule.until.isoformat()}) before its first appointment "
            f"({local_start.date().isoformat()}); choose a later end date."
        )
    if rule.weekdays and local_start.weekday() not in rule.weekdays:
        raise ValueError(
            f"The first appointment is on a {_DAY_NAMES[local_start.weekday()]}, which is "
            f"not one of the series' days ({_and(_DAY_NAMES[d] for d in rule.weekdays)}); "
            "move it to one of them."
        )
    dates = rrule(
        _DATEUTIL_FREQ[rule.frequency],
        dtstart=local_start,
        interval=rule.interval,
        wkst=0,
        count=rule.count,
        until=None if rule.until is None else datetime.combine(rule.until, time.max),
        byweekday=rule.weekdays or None,
    )
    local_starts = list(islice(dates, MAX_OCCURRENCES + 1))
    if len(local_starts) > MAX_OCCURRENCES:
        raise ValueError(
            f"This series would hold more than {MAX_OCCURRENCES} appointments; "
            "choose an earlier end date or a longer interval."
        )
    result: list[Interval] = [(start_utc, start_utc + duration)]
    for local in local_starts[1:]:
        start = wall_time_to_utc(local.date(), local.time(), zone)
        result.append((start, start + duration))
    return result


def to_rrule(rule: RecurrenceRule, *, first: datetime, zone: ZoneInfo) -> str:
    """The RFC 5545 RRULE value (without the ``RRULE:`` prefix) of a series starting at
    ``first`` in ``zone``, e.g. ``FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10``.

    ``INTERVAL`` is left out when 1 and ``BYDAY`` when no weekdays are chosen (the
    defaults); ``UNTIL`` is the last second of the local until-date, in UTC.
    """
    _aware_utc(first)
    parts = [f"FREQ={rule.frequency.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.weekdays:
        parts.append("BYDAY=" + ",".join(_DAY_CODES[d] for d in rule.weekdays))
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.until is not None:
        until = wall_time_to_utc(rule.until, _LAST_SECOND, zone)
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


def from_rrule(text: str, *, zone: ZoneInfo) -> RecurrenceRule:
    """The rule ``to_rrule`` wrote for a series in ``zone``; ``ValueError`` on any other
    text (unknown or repeated parts, other frequencies, numbered weekdays, local UNTIL)."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value or name in fields:
            raise ValueError(f"Not a recurrence rule this system writes: {text!r}.")
        fields[name] = value
    unknown = set(fields) - {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL"}
    if unknown or fields.get("FREQ") not in _FREQ_CODES:
        raise ValueError(f"Not a recurrence rule this system writes: {text!r}.")
    frequency = _FREQ_CODES[fields["FREQ"]]
    weekdays: tuple[int, ...] = ()
    if "BYDAY" in fields:
        codes = fields["BYDAY"].split(",")
        if any(code not in _DAY_CODES for code in codes):
            raise ValueError(f"Unknown days of the week in {text!r}.")
        weekdays = tuple(_DAY_CODES.index(code) for code in codes)
    until: date | None = None
    if "UNTIL" in fields:
        match = _UNTIL_FORMAT.fullmatch(fields["UNTIL"])
        if match is None:
            raise ValueError(f"UNTIL must be a UTC date-time (YYYYMMDDTHHMMSSZ) in {text!r}.")
        year, month, day, hour, minute, second = (int(group) for group in match.groups())
        try:
            instant = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as error:
            raise ValueError(f"UNTIL is not a real date and time in {text!r}.") from error
        until = instant.astimezone(zone).date()
    return RecurrenceRule(
        frequency=frequency,
        interval=_number(fields.get("INTERVAL", "1"), text),
        weekdays=weekdays,
        until=until,
        count=_number(fields["COUNT"], text) if "COUNT" in fields else None,
    )


def describe(rule: RecurrenceRule, *, date_format: str = ISO) -> str:
    """The rule in words for the UI: "Every 2 weeks on Monday and Wednesday, 10 times".

    The end date is written in the organization's ``date_format`` (see
    ``clinicdesk.core.dates``).
    """
    unit = _UNITS[rule.frequency]
    text = f"Every {unit}" if rule.interval == 1 else f"Every {rule.interval} {unit}s"
    if rule.weekdays:
        text += " on " + _and(_DAY_NAMES[d] for d in rule.weekdays)
    if rule.count is not None:
        text += ", once" if rule.count == 1 else f", {rule.count} times"
    if rule.until is not None:
        text += f", until {format_local_date(rule.until, date_format)}"
    return text


def _and(words: Iterable[str]) -> str:
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _number(value: str, text: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"Expected a whole number, got {value!r} in {text!r}.")
    return int(value)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("The first appointment's time must be timezone-aware.")
    return value.astimezone(UTC)
