"""The pure rules of orders and results: abnormal flags, the reference range that applies
to a patient, the order's steps. Worked cases and invariants (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.clinical.kernel.order_flow import OrderStatus, Step, refusal, status_after_review
from clinicdesk.clinical.kernel.result_flags import (
    Flag,
    Limits,
    RangeBand,
    flag_for,
    pick_band,
    severity,
)

POTASSIUM = Limits(
    low=Decimal("3.5"),
    high=Decimal("5.1"),
    critical_low=Decimal("2.5"),
    critical_high=Decimal("6.5"),
)

values = st.decimals(
    min_value=Decimal("-1000"), max_value=Decimal("1000"), places=3, allow_nan=False
)
optional = st.none() | values


@st.composite
def sound_limits(draw: st.DrawFn) -> Limits:
    """Limits in their order (critical low <= low <= high <= critical high), any missing."""
    points = sorted(draw(st.lists(values, min_size=4, max_size=4)))
    keep = draw(st.lists(st.booleans(), min_size=4, max_size=4))
    cl, lo, hi, ch = (p if k else None for p, k in zip(points, keep, strict=True))
    return Limits(low=lo, high=hi, critical_low=cl, critical_high=ch)


RANK = {Flag.CRITICAL_LOW: -2, Flag.LOW: -1, None: 0, Flag.HIGH: 1, Flag.CRITICAL_HIGH: 2}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.4", Flag.CRITICAL_LOW),
        ("2.5", Flag.LOW),  # a limit is inside its own side
        ("3.4", Flag.LOW),
        ("3.5", None),
        ("5.1", None),
        ("5.2", Flag.HIGH),
        ("6.5", Flag.HIGH),
        ("6.6", Flag.CRITICAL_HIGH),
    ],
)
def test_potassium_is_flagged_at_the_printed_limits(value: str, expected: Flag | None) -> None:
    assert flag_for(Decimal(value), POTASSIUM) == expected


def test_flag_words_and_severity() -> None:
    assert [f.label for f in Flag] == [
        "Low",
        "High",
        "Critically low",
        "Critically high",
        "Abnormal",
    ]
    assert severity(None) == 0
    assert severity("H") == severity(Flag.ABNORMAL) == 1
    assert severity("LL") == severity(Flag.CRITICAL_HIGH) == 2


@given(values, sound_limits())
def test_a_value_within_the_range_is_never_flagged(value: Decimal, limits: Limits) -> None:
    inside = (limits.low is None or value >= limits.low) and (
        limits.high is None or value <= limits.high
    )
    critical = (limits.critical_low is not None and value < limits.critical_low) or (
        limits.critical_high is not None and value > limits.critical_high
    )
    assert (flag_for(value, limits) is None) == (inside and not critical)


@given(values, values, sound_limits())
def test_flags_rise_with_the_value(a: Decimal, b: Decimal, limits: Limits) -> None:
    low, high = sorted((a, b))
    assert RANK[flag_for(low, limits)] <= RANK[flag_for(high, limits)]


@given(values, optional, optional)
def test_without_critical_limits_nothing_is_critical(
    value: Decimal, low: Decimal | None, high: Decimal | None
) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    flag = flag_for(value, Limits(low=low, high=high))
    assert flag is None or not flag.critical


@given(sound_limits())
def test_sound_limits_have_no_problems(limits: Limits) -> None:
    assert limits.problems() == []


def test_contradicting_limits_are_named() -> None:
    problems = Limits(low=Decimal("5"), high=Decimal("3")).problems()
    assert problems == ["The low limit (5) is above the high limit (3)."]


# --- the range that applies ---------------------------------------------------------------

HB_ANY = RangeBand(Limits(Decimal("11"), Decimal("17")))
HB_WOMEN = RangeBand(Limits(Decimal("12"), Decimal("15.5")), sex="female", age_from=18)
HB_MEN = RangeBand(Limits(Decimal("13.5"), Decimal("17.5")), sex="male", age_from=18)
HB_CHILD = RangeBand(Limits(Decimal("11.5"), Decimal("15.5")), age_from=1, age_to=18)
HEMOGLOBIN = [HB_ANY, HB_WOMEN, HB_MEN, HB_CHILD]


@pytest.mark.parametrize(
    ("sex", "age", "expected"),
    [
        ("female", 40, HB_WOMEN),
        ("male", 40, HB_MEN),
        ("female", 9, HB_CHILD),
        ("unknown", 40, HB_ANY),
        ("male", None, HB_ANY),  # an age band never fits an unknown age
        ("male", 0, HB_ANY),
    ],
)
def test_the_most_specific_range_applies(sex: str, age: int | None, expected: RangeBand) -> None:
    assert pick_band(HEMOGLOBIN, sex=sex, age_years=age) == expected


bands = st.builds(
    RangeBand,
    limits=st.just(Limits(Decimal("1"), Decimal("2"))),
    sex=st.sampled_from([None, "female", "male"]),
    age_from=st.none() | st.integers(0, 100),
    age_to=st.none() | st.integers(1, 120),
)
sexes = st.sampled_from(["female", "male", "intersex", "unknown", None])
ages = st.none() | st.integers(0, 120)


@given(st.lists(bands, max_size=6), sexes, ages)
def test_the_picked_range_fits_and_none_is_picked_only_when_none_fits(
    candidates: list[RangeBand], sex: str | None, age: int | None
) -> None:
    picked = pick_band(candidates, sex=sex, age_years=age)
    fitting = [b for b in candidates if b.fits(sex=sex, age_years=age)]
    assert (picked is None) == (not fitting)
    if picked is not None:
        assert picked.fits(sex=sex, age_years=age)
        # A fitting range for the patient's sex always wins over one for everybody.
        if any(b.sex is not None for b in fitting):
            assert picked.sex is not None


@given(st.lists(bands, max_size=6), sexes, ages)
def test_a_range_for_everybody_at_every_age_always_fits(
    candidates: list[RangeBand], sex: str | None, age: int | None
) -> None:
    everybody = RangeBand(Limits(Decimal("0"), Decimal("9")))
    assert pick_band([*candidates, everybody], sex=sex, age_years=age) is not None


# --- the order's steps ----------------------------------------------------------------------


def test_the_steps_of_an_order() -> None:
    assert refusal(Step.COLLECT, OrderStatus.ORDERED) is None
    assert refusal(Step.COLLECT, OrderStatus.COLLECTED) is not None
    assert refusal(Step.ENTER_RESULTS, OrderStatus.ORDERED) is None  # imaging: no sample
    assert refusal(Step.ENTER_RESULTS, OrderStatus.REVIEWED) is None  # a late part of a panel
    assert refusal(Step.CANCEL, OrderStatus.RESULTED) == (
        "Results are in for this order, so it cannot be cancelled."
    )
    for step in Step:
        assert "cancelled" in (refusal(step, OrderStatus.CANCELLED) or "")
    assert status_after_review(0) == OrderStatus.REVIEWED
    assert status_after_review(2) == OrderStatus.RESULTED
