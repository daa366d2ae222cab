"""When a provider can be booked: weekly hours, date exceptions, and the free slots in them.

Pure time arithmetic, no database. The rules:

* Hours are written in the location's local wall-clock time; every datetime passed in must
  be timezone-aware, and every datetime returned is in UTC. Intervals are half-open
  ``[start, end)``: an appointment ending at 10:00 and one starting at 10:00 do not overlap.
* Wall time to instant, date by date (``wall_time_to_utc``):
  - a wall time that exists once is that instant, so a block 08:00-17:00 stays 08:00-17:00
    local on both sides of a daylight-saving change (its UTC offset changes, its wall times
    do not);
  - an ambiguous wall time (the hour repeated when clocks go back) is its *first*
    occurrence (``fold=0``): in America/New_York on 2026-11-01 a 01:00-03:00 block lasts
    3 real hours;
  - a wall time that does not exist (skipped when clocks go forward) moves forward to the
    first instant that exists, the moment of the change: in America/New_York on 2026-03-08,
    02:30 becomes 03:00 EDT, so a 01:00-03:00 block lasts 1 real hour and a block lying
    wholly in the skipped hour is empty that day (dropped).
* A local date's open time is the blocks of its weekday valid on that date, plus its
  "extra" exceptions, minus its "off" exceptions ("off" wins over "extra" on the same
  date). A whole-day exception runs from the date's first instant to the next date's first
  instant (23 or 25 hours on a daylight-saving day).
* Open intervals that touch are merged, so a booking may run across 08:00-12:00 and
  12:00-17:00.
* A free slot's buffer must fit too: ``[s, s + duration + buffer_after)`` lies inside open
  time and overlaps no busy interval. Busy intervals carry their own buffer
  (``[starts_at, busy_until)``), and a booked slot is stored the same way, so every slot
  offered here passes the booking check (``covers`` and no overlap).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
"""UTC-aware, half-open ``[start, end)``."""

_ONE_DAY = timedelta(days=1)
_SMALLEST = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class WeeklyBlock:
    """Hours worked every week on ``weekday`` (0 = Monday), in local wall-clock time.

    A block does not cross midnight: ``start < end`` on the same day. ``valid_from`` and
    ``valid_until`` (both inclusive, local dates) bound the dates it applies to.
    """

    weekday: int
    start: time
    end: time
    valid_from: date | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("The weekday must be 0 (Monday) to 6 (Sunday).")
        _check_wall_time(self.start, self.end)
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until < self.valid_from
        ):
            raise ValueError("These hours end before they start; check the validity dates.")


@dataclass(frozen=True, slots=True)
class DateException:
    """One date's time off ("off", also a location holiday) or extra hours ("extra").

    Without ``start`` and ``end`` it covers the whole local date.
    """

    on: date
    kind: Literal["off", "extra"]
    start: time | None = None
    end: time | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("off", "extra"):
            raise ValueError('An exception is either "off" or "extra".')
        if self.start is None and self.end is None:
            return
        if self.start is None or self.end is None:
            raise ValueError("Give both a start and an end time, or neither for the whole day.")
        _check_wall_time(self.start, self.end)


def _check_wall_time(start: time, end: time) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("Hours are local wall-clock times, without a time zone.")
    if end <= start:
        raise ValueError(
            "The end time must be after the start time; hours cannot run past midnight "
            "(split them into two days)."
        )


def wall_time_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local ``wall`` time on ``day`` in ``zone``.

    An ambiguous wall time (clocks go back) is its first occurrence; a wall time that does
    not exist (clocks go forward) is the first instant after it that exists, the moment of
    the change.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if _local(first, zone) == naive:
        return first
    # In the gap: one reading of the wall time lands before the change and the other after
    # it. Bisect down to the change itself; it happens only on gap days.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    before, after = min(first, other), max(first, other)
    while after - before > _SMALLEST:
        middle = before + (after - before) // 2
        if _local(middle, zone) < naive:
            before = middle
        else:
            after = middle
    return after


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware.")
    # Arithmetic on a zoned datetime is wall-clock arithmetic; UTC keeps it real time.
    return value.astimezone(UTC)


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, with touching and overlapping intervals joined."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def _minus(keep: list[Interval], remove: list[Interval]) -> list[Interval]:
    """``keep`` without ``remove``; both sorted and merged."""
    result: list[Interval] = []
    j = 0
    for start, end in keep:
        while j < len(remove) and remove[j][1] <= start:
            j += 1
        cursor = start
        k = j
        while k < len(remove) and remove[k][0] < end:
            if remove[k][0] > cursor:
                result.append((cursor, remove[k][0]))
            cursor = max(cursor, remove[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _day_interval(day: date, start: time | None, end: time | None, zone: ZoneInfo) -> Interval:
    if start is None or end is None:
        return wall_time_to_utc(day, time(0), zone), wall_time_to_utc(day + _ONE_DAY, time(0), zone)
    return wall_time_to_utc(day, start, zone), wall_time_to_utc(day, end, zone)


def open_intervals(
    blocks: Sequence[WeeklyBlock],
    exceptions: Sequence[DateException],
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """The provider's open time within ``[start, end)``: UTC, sorted, merged, clipped.

    Each local date touched gets its weekday's blocks valid that date, plus its "extra"
    exceptions, minus its "off" exceptions (see the module rules for daylight saving).
    """
    start = _aware_utc(start, "start")
    end = _aware_utc(end, "end")
    if end <= start:
        return []
    by_weekday: dict[int, list[WeeklyBlock]] = {}
    for block in blocks:
        by_weekday.setdefault(block.weekday, []).append(block)
    by_date: dict[date, list[DateException]] = {}
    for exception in exceptions:
        by_date.setdefault(exception.on, []).append(exception)

    day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    opened: list[Interval] = []
    while day <= last_day:
        todays = by_date.get(day, [])
        worked = [
            _day_interval(day, b.start, b.end, zone)
            for b in by_weekday.get(day.weekday(), [])
            if (b.valid_from is None or b.valid_from <= day)
            and (b.valid_until is None or day <= b.valid_until)
        ]
        worked += [_day_interval(day, e.start, e.end, zone) for e in todays if e.kind == "extra"]
        off = [_day_interval(day, e.start, e.end, zone) for e in todays if e.kind == "off"]
        opened += _minus(_merged(worked), _merged(off))
        day += _ONE_DAY
    clipped = ((max(s, start), min(e, end)) for s, e in opened)
    return _merged(clipped)


def covers(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` lies inside one of ``intervals`` (sorted and merged, as
    ``open_intervals`` returns them). An empty or reversed ``[start, end)`` is never
    covered: there is nothing to book."""
    if end <= start:
        return False
    index = bisect_right(intervals, start, key=lambda interval: interval[0]) - 1
    return index >= 0 and intervals[index][0] <= start and end <= intervals[index][1]


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether two half-open intervals share an instant; back-to-back ones do not, and an
    empty interval overlaps nothing."""
    return a[0] < b[1] and b[0] < a[1] and a[0] < a[1] and b[0] < b[1]


def _first_aligned(origin: datetime, at: datetime, step: timedelta) -> datetime:
    """The first ``origin + k * step`` (k >= 0) at or after ``at``."""
    if at <= origin:
        return origin
    return origin + -((origin - at) // step) * step


def free_slots(
    open_: Sequence[Interval],
    busy: Sequence[Interval],
    *,
    duration: timedelta,
    buffer_after: timedelta,
    step: timedelta,
    not_before: datetime,
    limit: int,
    zone: ZoneInfo,
    part_of_day: tuple[time, time] | None = None,
) -> list[Interval]:
    """The first ``limit`` bookable slots ``[s, s + duration)``, sorted, in UTC.

    ``s`` is ``step``-aligned from the start of its (merged) open interval and at or after
    ``not_before``; ``[s, s + duration + buffer_after)`` lies inside open time and overlaps
    no busy interval (busy intervals already include their own buffer); with
    ``part_of_day=(a, b)`` the local start time in ``zone`` is in ``[a, b)``, and ``a > b``
    wraps past midnight. ``open_`` and ``busy`` may come in any order.

    One sweep over the sorted busy intervals: O(open + busy + candidates), no rescans.
    """
    if duration <= timedelta(0) or step <= timedelta(0):
        raise ValueError("The duration and the step must be positive.")
    if buffer_after < timedelta(0):
        raise ValueError("The buffer after an appointment cannot be negative.")
    if limit < 0:
        raise ValueError("The number of slots asked for cannot be negative.")
    if part_of_day is not None and part_of_day[0] == part_of_day[1]:
        raise ValueError("The part of the day must have different start and end times.")
    not_before = _aware_utc(not_before, "not_before")
    opened = _merged((_aware_utc(s, "open start"), _aware_utc(e, "open end")) for s, e in open_)
    taken = _merged((_aware_utc(s, "busy start"), _aware_utc(e, "busy end")) for s, e in busy)
    held = duration + buffer_after

    slots: list[Interval] = []
    j = 0
    for open_start, open_end in opened:
        latest = open_end - held
        candidate = _first_aligned(open_start, not_before, step)
        while len(slots) < limit and candidate <= latest:
            # Candidates only grow, so a busy interval over before one is over for good.
            while j < len(taken) and taken[j][1] <= candidate:
                j += 1
            if j < len(taken) and taken[j][0] < candidate + held:
                candidate = _first_aligned(open_start, taken[j][1], step)
                continue
            if part_of_day is not None and not _within(candidate, part_of_day, zone):
                candidate += step
                continue
            slots.append((candidate, candidate + duration))
            candidate += step
    return slots


def _within(instant: datetime, part_of_day: tuple[time, time], zone: ZoneInfo) -> bool:
    wall = instant.astimezone(zone).time()
    first, last = part_of_day
    if first < last:
        return first <= wall < last
    return wall >= first or wall < last
