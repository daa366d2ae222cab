"""The vitals kernel, without a database: unit conversions round-trip, every possible
value is either normal or flagged, impossible values are always refused (with a range
that the refused value lies outside of, and that admits its own bounds)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.clinical.kernel import growth
from clinicdesk.clinical.kernel.units import Dimension, UnitSystem, from_metric, rounded, to_metric
from clinicdesk.clinical.kernel.vital_ranges import (
    BY_KEY,
    ENTERED,
    NORMAL,
    AgeBand,
    Flag,
    Vital,
    age_band,
    body_mass_index,
    check_entry,
    interpret,
)

tenths = st.integers(min_value=1, max_value=20000).map(lambda n: Decimal(n).scaleb(-1))
systems = st.sampled_from(list(UnitSystem))
bands = st.sampled_from(list(AgeBand))
ranged = [v for v in ENTERED if v.key in NORMAL]


@given(tenths, st.sampled_from(list(Dimension)))
def test_an_imperial_value_typed_to_a_tenth_comes_back_the_same(
    typed: Decimal, dimension: Dimension
) -> None:
    places = {Dimension.LENGTH: 1, Dimension.MASS: 3, Dimension.TEMPERATURE: 2}[dimension]
    stored = rounded(to_metric(dimension, typed, UnitSystem.IMPERIAL), places)
    back = rounded(from_metric(dimension, stored, UnitSystem.IMPERIAL), 1)
    assert back == typed


@given(tenths, st.sampled_from(list(Dimension)))
def test_metric_is_stored_as_typed(typed: Decimal, dimension: Dimension) -> None:
    assert to_metric(dimension, typed, UnitSystem.METRIC) == typed
    assert from_metric(dimension, typed, UnitSystem.METRIC) == typed


def test_the_conversion_factors_are_the_exact_definitions() -> None:
    assert to_metric(Dimension.MASS, Decimal(1), UnitSystem.IMPERIAL) == Decimal("0.45359237")
    assert to_metric(Dimension.LENGTH, Decimal(1), UnitSystem.IMPERIAL) == Decimal("2.54")
    assert to_metric(Dimension.TEMPERATURE, Decimal(212), UnitSystem.IMPERIAL) == 100
    assert rounded(to_metric(Dimension.TEMPERATURE, Decimal("98.6"), UnitSystem.IMPERIAL), 2) == (
        Decimal("37.00")
    )


@st.composite
def possible(draw: st.DrawFn, vital: Vital) -> Decimal:
    assert vital.lowest is not None and vital.highest is not None
    step = Decimal(1).scaleb(-vital.places)
    count = int((vital.highest - vital.lowest) / step)
    return vital.lowest + step * draw(st.integers(min_value=0, max_value=count))


@given(st.data(), st.sampled_from(ranged), bands)
def test_every_possible_value_is_normal_or_flagged_consistently(
    data: st.DataObject, vital: Vital, band: AgeBand
) -> None:
    value = data.draw(possible(vital))
    checked = check_entry({vital.key: value}, UnitSystem.METRIC)
    if vital.key in ("systolic", "diastolic"):
        assert set(checked.problems) == {"diastolic" if vital.key == "systolic" else "systolic"}
    else:
        assert checked.problems == {}
        assert checked.values == {vital.key: value}
    flag = interpret(vital.key, value, band)
    span = NORMAL[vital.key].get(band)
    if span is None:
        assert flag is None
        return
    low, high = span
    assert flag is (Flag.LOW if value < low else Flag.HIGH if value > high else Flag.NORMAL)


@given(st.data(), st.sampled_from(list(ENTERED)), systems)
def test_an_impossible_value_is_always_refused_with_the_range(
    data: st.DataObject, vital: Vital, system: UnitSystem
) -> None:
    assert vital.lowest is not None and vital.highest is not None
    above = data.draw(st.booleans())
    distance = data.draw(st.integers(min_value=1, max_value=10_000))
    value = vital.highest + distance if above else vital.lowest - distance
    if vital.dimension is not None:
        value = from_metric(vital.dimension, value, system)
    typed = {vital.key: rounded(value, 1)}
    if vital.key in ("systolic", "diastolic"):
        typed = {"systolic": Decimal(120), "diastolic": Decimal(80), **typed}
    checked = check_entry(typed, system)
    assert vital.key in checked.problems
    assert checked.problems[vital.key].startswith(f"{vital.label} must be between ")
    assert vital.key not in checked.values


@pytest.mark.parametrize("system", list(UnitSystem))
@pytest.mark.parametrize("vital", [v for v in ENTERED if v.key not in ("systolic", "diastolic")])
def test_the_bounds_named_in_the_message_are_accepted(vital: Vital, system: UnitSystem) -> None:
    refused = check_entry({vital.key: Decimal(100000)}, system).problems[vital.key]
    words = refused.removeprefix(f"{vital.label} must be between ").split()
    low, high = Decimal(words[0]), Decimal(words[2])
    assert check_entry({vital.key: low}, system).problems == {}
    assert check_entry({vital.key: high}, system).problems == {}


def test_examples_refused_and_flagged() -> None:
    refused = check_entry({"temperature": Decimal("50")}, UnitSystem.METRIC).problems
    assert refused == {"temperature": "Temperature must be between 25 and 45 °C."}
    in_f = check_entry({"temperature": Decimal("120")}, UnitSystem.IMPERIAL).problems
    assert in_f == {"temperature": "Temperature must be between 77 and 113 °F."}
    assert check_entry({"heart_rate": Decimal("72.5")}, UnitSystem.METRIC).problems == {
        "heart_rate": "Pulse is a whole number."
    }
    pair = check_entry({"systolic": Decimal(80), "diastolic": Decimal(90)}, UnitSystem.METRIC)
    assert pair.problems == {"diastolic": "The diastolic pressure must be below the systolic."}
    assert check_entry({}, UnitSystem.METRIC).problems == {"form": "Type at least one measurement."}
    # A pulse of 150 is high for an adult and normal for an infant (PALS 100-180).
    assert interpret("heart_rate", Decimal(150), AgeBand.ADULT) is Flag.HIGH
    assert interpret("heart_rate", Decimal(150), AgeBand.INFANT) is Flag.NORMAL
    assert interpret("temperature", Decimal("38.00"), AgeBand.ADULT) is Flag.NORMAL
    assert interpret("temperature", Decimal("38.00"), AgeBand.TODDLER) is Flag.HIGH
    assert interpret("height", Decimal(170), AgeBand.ADULT) is None
    assert interpret("bmi", Decimal("31.2"), AgeBand.ADULT) is Flag.HIGH
    assert interpret("bmi", Decimal("31.2"), AgeBand.SCHOOL_AGE) is None


def test_age_bands_follow_the_birthday() -> None:
    born = date(2020, 3, 15)
    assert age_band(born, born + timedelta(days=27)) is AgeBand.NEWBORN
    assert age_band(born, born + timedelta(days=28)) is AgeBand.INFANT
    assert age_band(born, date(2021, 3, 14)) is AgeBand.INFANT
    assert age_band(born, date(2021, 3, 15)) is AgeBand.TODDLER
    assert age_band(born, date(2026, 3, 15)) is AgeBand.SCHOOL_AGE
    assert age_band(born, date(2032, 3, 15)) is AgeBand.ADOLESCENT
    assert age_band(born, date(2038, 3, 14)) is AgeBand.ADOLESCENT
    assert age_band(born, date(2038, 3, 15)) is AgeBand.ADULT


def test_body_mass_index() -> None:
    assert body_mass_index(Decimal("180.0"), Decimal("81.000")) == Decimal("25.0")
    assert BY_KEY["bmi"].computed
    assert "bmi" in check_entry({"bmi": Decimal(22)}, UnitSystem.METRIC).problems


def test_growth_centiles_for_children_only() -> None:
    born, on = date(2024, 3, 1), date(2026, 12, 1)
    girl = growth.centile("weight", Decimal("12.5"), sex_at_birth="female", birth_date=born, on=on)
    assert girl is not None and Decimal(25) < girl < Decimal(50)  # WHO weight-for-age
    heavier = growth.centile(
        "weight", Decimal("14.5"), sex_at_birth="female", birth_date=born, on=on
    )
    assert heavier is not None and heavier > girl
    assert (
        growth.centile("weight", Decimal(12), sex_at_birth="unknown", birth_date=born, on=on)
        is None
    )
    adult = date(1990, 1, 1)
    assert (
        growth.centile("weight", Decimal(70), sex_at_birth="male", birth_date=adult, on=on) is None
    )
    assert growth.centile("pulse", Decimal(90), sex_at_birth="male", birth_date=born, on=on) is None
