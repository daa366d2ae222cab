"""Recurring series: wall time kept across daylight saving, limits, RRULE text and wording."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.scheduling.availability import wall_time_to_utc
from clinicdesk.scheduling.recurrence import (
    MAX_OCCURRENCES,
    RecurrenceRule,
    describe,
    from_rrule,
    occurrences,
    to_rrule,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = (NEW_YORK, BERLIN, ZoneInfo("Australia/Sydney"), ZoneInfo("Asia/Kolkata"), ZoneInfo("UTC"))
HALF_HOUR = timedelta(minutes=30)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def starts(rule: RecurrenceRule, first: datetime, zone: ZoneInfo) -> list[datetime]:
    return [start for start, _ in occurrences(rule, first=first, duration=HALF_HOUR, zone=zone)]


# --- daylight saving --------------------------------------------------------------------


def test_weekly_ten_o_clock_in_new_york_keeps_its_wall_time_over_spring_forward() -> None:
    first = datetime(2026, 3, 1, 10, tzinfo=NEW_YORK)
    result = starts(RecurrenceRule("weekly", count=3), first, NEW_YORK)
    assert result == [utc(2026, 3, 1, 15), utc(2026, 3, 8, 14), utc(2026, 3, 15, 14)]
    assert all(start.tzinfo is UTC for start in result)


def test_weekly_ten_o_clock_in_new_york_keeps_its_wall_time_over_fall_back() -> None:
    first = datetime(2026, 10, 25, 10, tzinfo=NEW_YORK)
    result = starts(RecurrenceRule("weekly", count=2), first, NEW_YORK)
    assert result == [utc(2026, 10, 25, 14), utc(2026, 11, 1, 15)]


def test_daily_in_berlin_over_spring_forward_and_a_skipped_wall_time() -> None:
    first = datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN)  # 02:30 does not exist on 29 March
    result = starts(RecurrenceRule("daily", count=3), first, BERLIN)
    assert result == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_durations_are_real_time_even_over_a_change() -> None:
    first = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK)
    series = occurrences(
        RecurrenceRule("daily", count=2), first=first, duration=timedelta(hours=1), zone=NEW_YORK
    )
    assert [end - start for start, end in series] == [timedelta(hours=1)] * 2
    assert series[1][0] == utc(2026, 11, 1, 5, 30)  # the first 01:30, still EDT


# --- ends and limits --------------------------------------------------------------------


def test_monthly_on_the_31st_skips_months_without_one() -> None:
    first = datetime(2026, 1, 31, 9, tzinfo=BERLIN)
    result = starts(RecurrenceRule("monthly", count=4), first, BERLIN)
    assert [s.astimezone(BERLIN).date() for s in result] == [
        date(2026, 1, 31),
        date(2026, 3, 31),
        date(2026, 5, 31),
        date(2026, 7, 31),
    ]


def test_until_is_an_inclusive_local_date() -> None:
    # 20:00 in New York is already the next day in UTC; the until-date is read locally.
    first = datetime(2026, 3, 2, 20, tzinfo=NEW_YORK)
    rule = RecurrenceRule("weekly", interval=2, weekdays=(0, 2), until=date(2026, 3, 16))
    result = starts(rule, first, NEW_YORK)
    assert [s.astimezone(NEW_YORK).date() for s in result] == [
        date(2026, 3, 2),
        date(2026, 3, 4),
        date(2026, 3, 16),
    ]


def test_a_series_ending_before_it_starts_is_refused() -> None:
    first = datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    with pytest.raises(ValueError, match="before its first appointment"):
        starts(RecurrenceRule("daily", until=date(2026, 3, 1)), first, BERLIN)


def test_a_series_of_more_than_the_maximum_is_refused() -> None:
    first = datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    exactly = RecurrenceRule("daily", until=first.date() + timedelta(days=MAX_OCCURRENCES - 1))
    assert len(starts(exactly, first, BERLIN)) == MAX_OCCURRENCES
    too_many = RecurrenceRule("daily", until=first.date() + timedelta(days=MAX_OCCURRENCES))
    with pytest.raises(ValueError, match=f"more than {MAX_OCCURRENCES} appointments"):
        starts(too_many, first, BERLIN)


def test_a_first_appointment_off_the_series_days_is_refused() -> None:
    tuesday = datetime(2026, 3, 3, 9, tzinfo=BERLIN)
    with pytest.raises(ValueError, match=r"Tuesday.*Monday and Wednesday"):
        starts(RecurrenceRule("weekly", weekdays=(0, 2), count=4), tuesday, BERLIN)


def test_a_naive_first_appointment_and_no_duration_are_refused() -> None:
    rule = RecurrenceRule("daily", count=2)
    with pytest.raises(ValueError, match="timezone-aware"):
        starts(rule, datetime(2026, 3, 2, 9), BERLIN)  # noqa: DTZ001
    with pytest.raises(ValueError, match="last some time"):
        occurrences(rule, first=utc(2026, 3, 2), duration=timedelta(0), zone=BERLIN)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RecurrenceRule("yearly", count=2), "daily, weekly or monthly"),  # type: ignore[arg-type]
        (lambda: RecurrenceRule("weekly", interval=0, count=2), "1 to 52 weeks"),
        (lambda: RecurrenceRule("daily", interval=53, count=2), "1 to 52 days"),
        (lambda: RecurrenceRule("daily"), "either a number of appointments or an end date"),
        (lambda: RecurrenceRule("daily", count=2, until=date(2026, 5, 1)), "either"),
        (lambda: RecurrenceRule("daily", count=0), "1 to 200"),
        (lambda: RecurrenceRule("daily", count=201), "1 to 200"),
        (lambda: RecurrenceRule("daily", until=datetime(2026, 5, 1, tzinfo=UTC)), "a date"),
        (lambda: RecurrenceRule("monthly", weekdays=(0,), count=2), "only .* weekly"),
        (lambda: RecurrenceRule("weekly", weekdays=(7,), count=2), "0 \\(Monday\\) to 6"),
    ],
)
def test_rules_that_make_no_sense_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_weekdays_are_kept_sorted_without_repeats() -> None:
    assert RecurrenceRule("weekly", weekdays=(4, 0, 4), count=3).weekdays == (0, 4)


# --- RRULE text and wording -------------------------------------------------------------


def test_to_rrule_writes_rfc_5545() -> None:
    first = datetime(2026, 3, 2, 10, tzinfo=NEW_YORK)
    rule = RecurrenceRule("weekly", interval=2, weekdays=(2, 0), count=10)
    assert (
        to_rrule(rule, first=first, zone=NEW_YORK) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10"
    )
    assert to_rrule(RecurrenceRule("daily", count=5), first=first, zone=NEW_YORK) == (
        "FREQ=DAILY;COUNT=5"
    )
    # The last second of 30 June in New York (EDT) is 03:59:59 on 1 July in UTC.
    monthly = RecurrenceRule("monthly", until=date(2026, 6, 30))
    assert to_rrule(monthly, first=first, zone=NEW_YORK) == "FREQ=MONTHLY;UNTIL=20260701T035959Z"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "RRULE:FREQ=DAILY;COUNT=2",
        "FREQ=YEARLY;COUNT=2",
        "freq=daily;count=2",
        "FREQ=DAILY",
        "FREQ=DAILY;COUNT=2;COUNT=3",
        "FREQ=DAILY;COUNT=2;WKST=MO",
        "FREQ=WEEKLY;BYDAY=1MO;COUNT=2",
        "FREQ=DAILY;BYDAY=MO;COUNT=2",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;COUNT=²",
        "FREQ=DAILY;INTERVAL=abc;COUNT=2",
        "FREQ=DAILY;UNTIL=20260701",
        "FREQ=DAILY;UNTIL=20260701T035959",
        "FREQ=DAILY;UNTIL=20261341T035959Z",
        "FREQ=DAILY;COUNT=2;",
    ],
)
def test_from_rrule_refuses_what_to_rrule_never_writes(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case fails for its own reason
        from_rrule(text, zone=BERLIN)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            RecurrenceRule("weekly", interval=2, weekdays=(0, 2), count=10),
            "Every 2 weeks on Monday and Wednesday, 10 times",
        ),
        (
            RecurrenceRule("weekly", weekdays=(0, 2, 4), count=1),
            "Every week on Monday, Wednesday and Friday, once",
        ),
        (RecurrenceRule("weekly", weekdays=(3,), count=4), "Every week on Thursday, 4 times"),
        (RecurrenceRule("daily", count=5), "Every day, 5 times"),
        (
            RecurrenceRule("monthly", interval=3, until=date(2026, 12, 31)),
            "Every 3 months, until 2026-12-31",
        ),
    ],
)
def test_describe(rule: RecurrenceRule, words: str) -> None:
    assert describe(rule) == words


def test_describe_writes_the_end_date_the_organization_way() -> None:
    rule = RecurrenceRule("daily", interval=2, until=date(2026, 5, 4))
    assert describe(rule, date_format="DD/MM/YYYY") == "Every 2 days, until 04/05/2026"


# --- properties -------------------------------------------------------------------------

zones = st.sampled_from(ZONES)
# Local first appointments, often in the night hours and weeks around the changes.
first_dates = st.one_of(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    st.builds(
        lambda day, shift: day + timedelta(days=shift),
        st.sampled_from(
            [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 4), date(2026, 11, 1)]
        ),
        st.integers(-60, 7),
    ),
)
first_walls = st.builds(
    time, st.one_of(st.integers(0, 23), st.integers(0, 3)), st.sampled_from([0, 15, 30, 45])
)


@st.composite
def series(draw: st.DrawFn) -> tuple[RecurrenceRule, datetime, ZoneInfo]:
    zone = draw(zones)
    first = wall_time_to_utc(draw(first_dates), draw(first_walls), zone)
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly"]))
    weekdays: tuple[int, ...] = ()
    if frequency == "weekly" and draw(st.booleans()):
        extra = draw(st.sets(st.integers(0, 6), max_size=6))
        weekdays = tuple(extra | {first.astimezone(zone).weekday()})
    interval = draw(st.integers(1, 52) if draw(st.booleans()) else st.integers(1, 3))
    if draw(st.booleans()):
        count: int | None = draw(st.integers(1, MAX_OCCURRENCES))
        until = None
    else:
        count = None
        until = first.astimezone(zone).date() + timedelta(days=draw(st.integers(0, 60)))
    rule = RecurrenceRule(
        frequency,  # type: ignore[arg-type]
        interval=interval,
        weekdays=weekdays,
        count=count,
        until=until,
    )
    return rule, first, zone


@given(series())
def test_every_occurrence_has_the_first_ones_wall_time(
    drawn: tuple[RecurrenceRule, datetime, ZoneInfo],
) -> None:
    rule, first, zone = drawn
    result = occurrences(rule, first=first, duration=HALF_HOUR, zone=zone)
    wall = first.astimezone(zone).time()
    assert result[0] == (first, first + HALF_HOUR)
    for start, end in result:
        assert start.tzinfo is UTC
        assert end - start == HALF_HOUR
        # The wall time itself, or (where it does not exist that day) the change after it.
        assert start == wall_time_to_utc(start.astimezone(zone).date(), wall, zone)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(result))
    if rule.count is not None:
        assert len(result) == rule.count
    else:
        assert rule.until is not None
        assert result[-1][0].astimezone(zone).date() <= rule.until
    if rule.weekdays:
        assert {start.astimezone(zone).weekday() for start, _ in result} <= set(rule.weekdays)


@given(series())
def test_rrule_text_round_trips_and_means_the_same_to_dateutil(
    drawn: tuple[RecurrenceRule, datetime, ZoneInfo],
) -> None:
    rule, first, zone = drawn
    text = to_rrule(rule, first=first, zone=zone)
    assert from_rrule(text, zone=zone) == rule
    # Another reader of the .ics feed (dateutil, wall-clock arithmetic on an aware start)
    # lands on the same local dates.
    ours = [s.astimezone(zone).date() for s in starts(rule, first, zone)]
    theirs = rrulestr(text, dtstart=first.astimezone(zone))
    assert [d.date() for d in itertools.islice(theirs, MAX_OCCURRENCES + 1)] == ours


@given(
    frequency=st.sampled_from(["daily", "weekly", "monthly"]),
    interval=st.integers(1, 52),
    count=st.integers(1, MAX_OCCURRENCES),
)
def test_describe_names_the_interval_and_the_count(
    frequency: str, interval: int, count: int
) -> None:
    words = describe(RecurrenceRule(frequency, interval=interval, count=count))  # type: ignore[arg-type]
    assert words.startswith("Every ")
    assert words.startswith(f"Every {interval} ") == (interval > 1)
    assert words.endswith("once" if count == 1 else f"{count} times")
