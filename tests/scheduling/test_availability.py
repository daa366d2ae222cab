"""Open time, coverage, overlap and free slots: the daylight-saving cases and the invariants."""

from __future__ import annotations

import itertools
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicdesk.scheduling.availability import (
    DateException,
    Interval,
    WeeklyBlock,
    covers,
    free_slots,
    open_intervals,
    overlaps,
    wall_time_to_utc,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = (NEW_YORK, BERLIN, SYDNEY, KOLKATA, ZoneInfo("UTC"))
# Daylight-saving changes of 2026 (Kolkata and UTC have none; they get all the dates).
CHANGES = {
    NEW_YORK: (date(2026, 3, 8), date(2026, 11, 1)),  # 02:00 -> 03:00, 02:00 -> 01:00
    BERLIN: (date(2026, 3, 29), date(2026, 10, 25)),  # 02:00 -> 03:00, 03:00 -> 02:00
    SYDNEY: (date(2026, 4, 5), date(2026, 10, 4)),  # 03:00 -> 02:00, 02:00 -> 03:00
}
DST_DATES = tuple(day for days in CHANGES.values() for day in days)
EVERY_DAY = tuple(WeeklyBlock(weekday=d, start=time(8), end=time(17)) for d in range(7))
T0 = datetime(2026, 3, 2, 13, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_day(day: date, zone: ZoneInfo) -> Interval:
    return wall_time_to_utc(day, time(0), zone), wall_time_to_utc(
        day + timedelta(days=1), time(0), zone
    )


def wall_exists(day: date, wall: time, zone: ZoneInfo) -> bool:
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    return instant.astimezone(zone).replace(tzinfo=None) == naive


def hours(interval: Interval) -> float:
    return (interval[1] - interval[0]) / timedelta(hours=1)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# --- wall time to UTC -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        (NEW_YORK, date(2026, 3, 8), time(1, 59), datetime(2026, 3, 8, 6, 59, tzinfo=UTC)),
        # Skipped: 02:30 moves forward to the change, 03:00 EDT.
        (NEW_YORK, date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, tzinfo=UTC)),
        (NEW_YORK, date(2026, 3, 8), time(3), datetime(2026, 3, 8, 7, tzinfo=UTC)),
        # Repeated: 01:30 is the first one, EDT.
        (NEW_YORK, date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (NEW_YORK, date(2026, 11, 1), time(3), datetime(2026, 11, 1, 8, tzinfo=UTC)),
        (BERLIN, date(2026, 3, 29), time(2, 15), datetime(2026, 3, 29, 1, tzinfo=UTC)),
        (BERLIN, date(2026, 10, 25), time(2, 15), datetime(2026, 10, 25, 0, 15, tzinfo=UTC)),
        (SYDNEY, date(2026, 10, 4), time(2, 15), datetime(2026, 10, 3, 16, tzinfo=UTC)),
        (KOLKATA, date(2026, 3, 8), time(2, 30), datetime(2026, 3, 7, 21, tzinfo=UTC)),
    ],
)
def test_wall_time_to_utc(zone: ZoneInfo, day: date, wall: time, expected: datetime) -> None:
    assert wall_time_to_utc(day, wall, zone) == expected


# --- open intervals ---------------------------------------------------------------------


def test_a_block_keeps_its_wall_times_across_spring_forward() -> None:
    opened = open_intervals(
        EVERY_DAY, [], zone=NEW_YORK, start=utc(2026, 3, 7), end=utc(2026, 3, 10)
    )
    assert opened == [
        (utc(2026, 3, 7, 13), utc(2026, 3, 7, 22)),  # EST, UTC-5
        (utc(2026, 3, 8, 12), utc(2026, 3, 8, 21)),  # EDT, UTC-4
        (utc(2026, 3, 9, 12), utc(2026, 3, 9, 21)),
    ]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
        (BERLIN, date(2026, 3, 29), date(2026, 10, 25)),
    ],
)
def test_a_night_block_over_the_change_is_shorter_in_spring_and_longer_in_autumn(
    zone: ZoneInfo, spring: date, autumn: date
) -> None:
    for day, expected_hours in ((spring, 1), (autumn, 3), (spring - timedelta(days=7), 2)):
        block = WeeklyBlock(weekday=day.weekday(), start=time(1), end=time(3))
        start, end = local_day(day, zone)
        assert [hours(i) for i in open_intervals([block], [], zone=zone, start=start, end=end)] == [
            expected_hours
        ]


def test_a_zone_without_daylight_saving_keeps_every_block_its_length() -> None:
    block = WeeklyBlock(weekday=6, start=time(1), end=time(3))
    opened = open_intervals([block], [], zone=KOLKATA, start=utc(2026, 3, 1), end=utc(2026, 11, 30))
    assert len(opened) == 39  # the Sundays from 8 March to 29 November
    assert {hours(i) for i in opened} == {2}
    assert opened[0] == (utc(2026, 3, 7, 19, 30), utc(2026, 3, 7, 21, 30))


def test_a_block_inside_the_skipped_hour_is_empty_that_day_and_one_across_it_starts_after() -> None:
    sunday = date(2026, 3, 8)
    start, end = local_day(sunday, NEW_YORK)
    inside = WeeklyBlock(weekday=6, start=time(2), end=time(2, 30))
    across = WeeklyBlock(weekday=6, start=time(2, 30), end=time(4))
    assert open_intervals([inside], [], zone=NEW_YORK, start=start, end=end) == []
    assert open_intervals([across], [], zone=NEW_YORK, start=start, end=end) == [
        (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8))
    ]


def test_a_whole_day_exception_on_a_change_day_lasts_23_or_25_hours() -> None:
    for day, expected in ((date(2026, 3, 8), 23), (date(2026, 11, 1), 25)):
        extra = DateException(on=day, kind="extra")
        opened = open_intervals(
            [], [extra], zone=NEW_YORK, start=utc(2026, 1, 1), end=utc(2026, 12, 31)
        )
        assert [hours(i) for i in opened] == [expected]


def test_exceptions_add_and_remove_time_and_off_wins() -> None:
    monday = date(2026, 3, 2)
    exceptions = [
        DateException(on=monday, kind="off", start=time(12), end=time(13)),  # lunch off
        DateException(on=monday, kind="extra", start=time(17), end=time(19)),  # stays late
        DateException(on=monday, kind="extra", start=time(6), end=time(7)),
        DateException(on=monday, kind="off", start=time(6, 30), end=time(8, 30)),
        DateException(on=date(2026, 3, 3), kind="off"),  # holiday
    ]
    opened = open_intervals(
        EVERY_DAY, exceptions, zone=BERLIN, start=utc(2026, 3, 2), end=utc(2026, 3, 4)
    )
    assert opened == [
        (utc(2026, 3, 2, 5), utc(2026, 3, 2, 5, 30)),
        (utc(2026, 3, 2, 7, 30), utc(2026, 3, 2, 11)),
        (utc(2026, 3, 2, 12), utc(2026, 3, 2, 18)),  # 13:00-17:00 and 17:00-19:00 joined
    ]


def test_blocks_apply_only_between_their_validity_dates_and_results_are_clipped() -> None:
    block = WeeklyBlock(
        weekday=0,
        start=time(9),
        end=time(12),
        valid_from=date(2026, 3, 9),
        valid_until=date(2026, 3, 16),
    )
    opened = open_intervals(
        [block], [], zone=ZoneInfo("UTC"), start=utc(2026, 3, 1), end=utc(2026, 3, 16, 10)
    )
    assert opened == [
        (utc(2026, 3, 9, 9), utc(2026, 3, 9, 12)),
        (utc(2026, 3, 16, 9), utc(2026, 3, 16, 10)),
    ]
    assert (
        open_intervals([block], [], zone=BERLIN, start=utc(2026, 3, 5), end=utc(2026, 3, 5)) == []
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: WeeklyBlock(weekday=7, start=time(8), end=time(9)), "weekday"),
        (lambda: WeeklyBlock(weekday=0, start=time(9), end=time(9)), "after the start"),
        (lambda: WeeklyBlock(weekday=0, start=time(22), end=time(2)), "midnight"),
        (
            lambda: WeeklyBlock(
                weekday=0,
                start=time(8),
                end=time(9),
                valid_from=date(2026, 2, 1),
                valid_until=date(2026, 1, 1),
            ),
            "validity",
        ),
        (lambda: WeeklyBlock(weekday=0, start=time(8, tzinfo=UTC), end=time(9)), "wall-clock"),
        (lambda: DateException(on=date(2026, 1, 1), kind="off", start=time(8)), "both"),
        (lambda: DateException(on=date(2026, 1, 1), kind="sick"), "off"),  # type: ignore[arg-type]
    ],
)
def test_hours_that_make_no_sense_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        open_intervals(EVERY_DAY, [], zone=BERLIN, start=datetime(2026, 1, 1), end=utc(2026, 2, 1))  # noqa: DTZ001


KINDS: tuple[Literal["off", "extra"], ...] = ("off", "extra")
zones = st.sampled_from(ZONES)
# Mostly the day of the change itself, sometimes the days around it.
shifts = st.sampled_from((0, 0, 0, 0, -1, 1, -2, 2, -3, 3))
near_a_change = st.builds(
    lambda day, shift: day + timedelta(days=shift), st.sampled_from(DST_DATES), shifts
)


@st.composite
def zoned_days(draw: st.DrawFn) -> tuple[ZoneInfo, date]:
    """A zone and a local date on or near one of its own daylight-saving changes."""
    zone = draw(zones)
    day = draw(st.sampled_from(CHANGES.get(zone, DST_DATES)))
    return zone, day + timedelta(days=draw(shifts))


# Quarter hours, with the night hours around the changes drawn often.
wall_times = st.one_of(
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    st.builds(time, st.integers(1, 3), st.sampled_from([0, 15, 30, 45])),
)


@st.composite
def wall_ranges(draw: st.DrawFn) -> tuple[time, time]:
    first, second = draw(wall_times), draw(wall_times)
    if first == second:
        second = time(23, 59) if first < time(23, 59) else time(23, 59, 59)
    return min(first, second), max(first, second)


@st.composite
def weekly_blocks(draw: st.DrawFn) -> WeeklyBlock:
    start, end = draw(wall_ranges())
    return WeeklyBlock(weekday=draw(st.integers(0, 6)), start=start, end=end)


@st.composite
def date_exceptions(draw: st.DrawFn) -> DateException:
    day = draw(near_a_change)
    kind = draw(st.sampled_from(KINDS))
    if draw(st.booleans()):
        return DateException(on=day, kind=kind)
    start, end = draw(wall_ranges())
    return DateException(on=day, kind=kind, start=start, end=end)


@given(
    blocks=st.lists(weekly_blocks(), max_size=8),
    exceptions=st.lists(date_exceptions(), max_size=6),
    zoned=zoned_days(),
    start_hours=st.integers(-48, 48),
    length_hours=st.integers(0, 24 * 9),
)
def test_open_time_is_sorted_disjoint_utc_and_inside_the_window(
    blocks: list[WeeklyBlock],
    exceptions: list[DateException],
    zoned: tuple[ZoneInfo, date],
    start_hours: int,
    length_hours: int,
) -> None:
    zone, day = zoned
    start = datetime.combine(day, time(), tzinfo=UTC) + timedelta(hours=start_hours)
    end = start + timedelta(hours=length_hours)
    opened = open_intervals(blocks, exceptions, zone=zone, start=start, end=end)
    for interval_start, interval_end in opened:
        assert interval_start.tzinfo is UTC
        assert start <= interval_start < interval_end <= end
    for before, after in itertools.pairwise(opened):
        assert before[1] < after[0]  # touching intervals are merged


@given(zoned=zoned_days(), blocks=st.lists(weekly_blocks(), max_size=8))
def test_a_whole_day_off_removes_the_day(
    zoned: tuple[ZoneInfo, date], blocks: list[WeeklyBlock]
) -> None:
    zone, day = zoned
    extra = DateException(on=day, kind="extra", start=time(7), end=time(9))
    off = DateException(on=day, kind="off")
    start, end = local_day(day, zone)
    opened = open_intervals(
        [*blocks, *EVERY_DAY],
        [extra, off],
        zone=zone,
        start=start - timedelta(days=2),
        end=end + timedelta(days=2),
    )
    assert not any(overlaps(interval, (start, end)) for interval in opened)
    assert covers(opened, *_day_hours(day - timedelta(days=1), zone))
    assert covers(opened, *_day_hours(day + timedelta(days=1), zone))


def _day_hours(day: date, zone: ZoneInfo) -> Interval:
    return wall_time_to_utc(day, time(8), zone), wall_time_to_utc(day, time(17), zone)


@settings(max_examples=400)  # about 1 in 15 examples lands in a skipped hour
@given(zoned=zoned_days(), walls=wall_ranges())
def test_a_block_keeps_its_local_wall_times_except_in_a_skipped_hour(
    zoned: tuple[ZoneInfo, date], walls: tuple[time, time]
) -> None:
    zone, day = zoned
    block = WeeklyBlock(
        weekday=day.weekday(), start=walls[0], end=walls[1], valid_from=day, valid_until=day
    )
    opened = open_intervals([block], [], zone=zone, start=utc(2025, 12, 1), end=utc(2027, 2, 1))
    expected = [
        _expected_instant(day, walls[0], zone),
        _expected_instant(day, walls[1], zone),
    ]
    if expected[0] == expected[1]:  # wholly inside a skipped hour
        assert opened == []
        return
    assert len(opened) == 1
    assert list(opened[0]) == expected


def _expected_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    instant = wall_time_to_utc(day, wall, zone)
    local = instant.astimezone(zone)
    if wall_exists(day, wall, zone):
        assert local.replace(tzinfo=None) == datetime.combine(day, wall)
        assert local.fold == 0  # the first occurrence of a repeated wall time
    else:
        # The first instant that exists after the wall time: a second before, it was earlier.
        assert local.replace(tzinfo=None) > datetime.combine(day, wall)
        just_before = (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        assert just_before < datetime.combine(day, wall)
    return instant


# --- covers and overlaps ----------------------------------------------------------------


def test_covers_needs_one_open_interval_around_the_whole_booking() -> None:
    opened = [(utc(2026, 3, 2, 8), utc(2026, 3, 2, 12)), (utc(2026, 3, 2, 13), utc(2026, 3, 2, 17))]
    assert covers(opened, utc(2026, 3, 2, 8), utc(2026, 3, 2, 12))
    assert covers(opened, utc(2026, 3, 2, 16), utc(2026, 3, 2, 17))
    assert not covers(opened, utc(2026, 3, 2, 11, 30), utc(2026, 3, 2, 13, 30))
    assert not covers(opened, utc(2026, 3, 2, 7, 30), utc(2026, 3, 2, 8, 30))
    assert not covers(opened, utc(2026, 3, 2, 16), utc(2026, 3, 2, 17, 1))
    assert not covers(opened, utc(2026, 3, 2, 9), utc(2026, 3, 2, 9))
    assert not covers([], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))


instants = st.integers(0, 24 * 60).map(lambda n: T0 + minutes(n))


@st.composite
def intervals(draw: st.DrawFn, *, max_minutes: int = 24 * 60) -> Interval:
    start = draw(st.integers(0, max_minutes))
    length = draw(st.integers(1, 240))
    return T0 + minutes(start), T0 + minutes(start + length)


@given(a=intervals(), b=intervals())
def test_overlap_is_symmetric(a: Interval, b: Interval) -> None:
    assert overlaps(a, b) == overlaps(b, a)


@given(a=intervals(), length=st.integers(1, 240))
def test_back_to_back_never_overlaps_and_an_interval_overlaps_itself(
    a: Interval, length: int
) -> None:
    after = (a[1], a[1] + minutes(length))
    assert not overlaps(a, after)
    assert not overlaps(after, a)
    assert overlaps(a, a)


@given(a=intervals(), b=intervals())
def test_overlap_means_a_shared_instant(a: Interval, b: Interval) -> None:
    shared = max(a[0], b[0]) < min(a[1], b[1])
    assert overlaps(a, b) == shared


# --- free slots -------------------------------------------------------------------------


def _merge(items: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for start, end in sorted(items):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result


@dataclass(frozen=True)
class SlotRequest:
    duration: timedelta
    buffer_after: timedelta
    step: timedelta
    not_before: datetime
    limit: int
    zone: ZoneInfo
    part_of_day: tuple[time, time] | None

    def ask(self, open_: list[Interval], busy: list[Interval]) -> list[Interval]:
        return free_slots(
            open_,
            busy,
            duration=self.duration,
            buffer_after=self.buffer_after,
            step=self.step,
            not_before=self.not_before,
            limit=self.limit,
            zone=self.zone,
            part_of_day=self.part_of_day,
        )

    def brute_force(self, open_: list[Interval], busy: list[Interval]) -> list[Interval]:
        """The rules, spelled out one candidate at a time."""
        held_for = self.duration + self.buffer_after
        slots: list[Interval] = []
        for open_start, open_end in _merge(open_):
            candidate = open_start
            while candidate + held_for <= open_end:
                if (
                    candidate >= self.not_before
                    and not any(overlaps((candidate, candidate + held_for), b) for b in busy)
                    and self._in_part_of_day(candidate)
                ):
                    slots.append((candidate, candidate + self.duration))
                candidate += self.step
        return slots[: self.limit]

    def _in_part_of_day(self, instant: datetime) -> bool:
        if self.part_of_day is None:
            return True
        first, last = self.part_of_day
        local = instant.astimezone(self.zone).time()
        return first <= local < last if first < last else (local >= first or local < last)


slot_minutes = st.sampled_from([5, 10, 15, 20, 30, 45, 60])


@given(
    open_=st.lists(intervals(max_minutes=3 * 24 * 60), max_size=6),
    busy=st.lists(intervals(max_minutes=3 * 24 * 60), max_size=12),
    duration=slot_minutes,
    buffer_after=st.sampled_from([0, 5, 10, 15]),
    step=slot_minutes,
    not_before=st.integers(-60, 3 * 24 * 60).map(lambda n: T0 + minutes(n)),
    limit=st.integers(0, 40),
    zone=zones,
    part_of_day=st.none() | st.tuples(wall_times, wall_times).filter(lambda p: p[0] != p[1]),
)
def test_free_slots_follow_the_rules(
    open_: list[Interval],
    busy: list[Interval],
    duration: int,
    buffer_after: int,
    step: int,
    not_before: datetime,
    limit: int,
    zone: ZoneInfo,
    part_of_day: tuple[time, time] | None,
) -> None:
    request = SlotRequest(
        duration=minutes(duration),
        buffer_after=minutes(buffer_after),
        step=minutes(step),
        not_before=not_before,
        limit=limit,
        zone=zone,
        part_of_day=part_of_day,
    )
    slots = request.ask(open_, busy)
    merged_open = _merge(open_)
    assert len(slots) <= limit
    for start, end in slots:
        assert end - start == minutes(duration)
        assert start >= not_before
        assert covers(merged_open, start, end + minutes(buffer_after))
        assert not any(overlaps((start, end + minutes(buffer_after)), b) for b in busy)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(slots))
    assert slots == request.brute_force(open_, busy)


@given(
    open_=st.lists(intervals(max_minutes=3 * 24 * 60), min_size=1, max_size=6),
    duration=slot_minutes,
    step=slot_minutes,
    not_before=st.integers(-60, 3 * 24 * 60).map(lambda n: T0 + minutes(n)),
)
def test_with_nothing_booked_the_first_slot_is_the_first_aligned_open_time(
    open_: list[Interval], duration: int, step: int, not_before: datetime
) -> None:
    slots = free_slots(
        open_,
        [],
        duration=minutes(duration),
        buffer_after=timedelta(0),
        step=minutes(step),
        not_before=not_before,
        limit=1,
        zone=BERLIN,
    )
    first_aligned = None
    for open_start, open_end in _merge(open_):
        candidate = open_start
        while candidate < not_before:
            candidate += minutes(step)
        if candidate + minutes(duration) <= open_end:
            first_aligned = candidate
            break
    assert slots == (
        [] if first_aligned is None else [(first_aligned, first_aligned + minutes(duration))]
    )


def test_the_buffer_must_fit_before_closing_and_before_the_next_appointment() -> None:
    opened = [(utc(2026, 3, 2, 9), utc(2026, 3, 2, 11, 25))]
    busy = [(utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 40))]  # a 30-minute visit + 10 buffer
    slots = free_slots(
        opened,
        busy,
        duration=minutes(30),
        buffer_after=minutes(10),
        step=minutes(10),
        not_before=utc(2026, 3, 2),
        limit=10,
        zone=ZoneInfo("UTC"),
    )
    assert [s for s, _ in slots] == [
        utc(2026, 3, 2, 9),
        utc(2026, 3, 2, 9, 10),
        utc(2026, 3, 2, 9, 20),  # its buffer ends at 10:00, when the next visit starts
        utc(2026, 3, 2, 10, 40),
        # 10:50 would end at 11:30 with its buffer, after closing at 11:25
    ]


def test_part_of_day_is_read_in_local_time() -> None:
    day = date(2026, 3, 9)
    opened = open_intervals(
        EVERY_DAY, [], zone=NEW_YORK, start=utc(2026, 3, 9), end=utc(2026, 3, 10)
    )
    afternoon = free_slots(
        opened,
        [],
        duration=minutes(30),
        buffer_after=timedelta(0),
        step=minutes(30),
        not_before=utc(2026, 3, 9),
        limit=3,
        zone=NEW_YORK,
        part_of_day=(time(12), time(17)),
    )
    assert [s.astimezone(NEW_YORK).time() for s, _ in afternoon] == [
        time(12),
        time(12, 30),
        time(13),
    ]
    assert afternoon[0][0] == wall_time_to_utc(day, time(12), NEW_YORK)


HALF_HOUR = timedelta(minutes=30)
QUARTER_HOUR = timedelta(minutes=15)


def _ask(
    *,
    duration: timedelta = HALF_HOUR,
    buffer_after: timedelta = timedelta(0),
    step: timedelta = QUARTER_HOUR,
    not_before: datetime = T0,
    limit: int = 5,
    part_of_day: tuple[time, time] | None = None,
) -> list[Interval]:
    return free_slots(
        [(T0, T0 + timedelta(hours=8))],
        [],
        duration=duration,
        buffer_after=buffer_after,
        step=step,
        not_before=not_before,
        limit=limit,
        zone=BERLIN,
        part_of_day=part_of_day,
    )


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        (lambda: _ask(duration=timedelta(0)), "positive"),
        (lambda: _ask(step=timedelta(0)), "positive"),
        (lambda: _ask(buffer_after=minutes(-5)), "negative"),
        (lambda: _ask(limit=-1), "negative"),
        (lambda: _ask(part_of_day=(time(9), time(9))), "different"),
        (lambda: _ask(not_before=datetime(2026, 3, 2)), "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_free_slots_refuses_meaningless_requests(ask: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ask()


def test_a_limit_of_zero_asks_for_nothing() -> None:
    assert _ask(limit=0) == []
    assert len(_ask(limit=100)) == 31  # 8 hours, 30 minutes each, every 15 minutes


def test_free_slots_are_fast_for_ten_providers_over_two_weeks() -> None:
    start = utc(2026, 3, 2)
    opened = open_intervals(EVERY_DAY, [], zone=BERLIN, start=start, end=start + timedelta(days=14))
    # 300 visits 15 minutes long (buffer included) every 20 minutes, from the first day on:
    # the 5-minute gaps are too short, so the sweep crosses all of them to find a slot.
    busy = [
        (s, s + minutes(15))
        for open_start, open_end in opened
        for s in (open_start + minutes(20) * k for k in range(27))
        if s + minutes(15) <= open_end
    ][:300]
    assert len(busy) == 300
    timings = []
    for _provider in range(10):
        began = clock.perf_counter()
        slots = free_slots(
            opened,
            busy,
            duration=minutes(15),
            buffer_after=minutes(5),
            step=minutes(5),
            not_before=start,
            limit=20,
            zone=BERLIN,
            part_of_day=(time(13), time(17)),
        )
        timings.append(clock.perf_counter() - began)
        assert len(slots) == 20
        assert slots[0][0] > busy[-1][1]
    assert sorted(timings)[5] < 0.005  # the median: one slow run on a busy machine is noise
