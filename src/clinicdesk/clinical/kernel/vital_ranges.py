"""Vital signs: the kinds a clinic records (LOINC codes, UCUM units), the values no
person can have (refused), and the values outside the normal range for the patient's age
(flagged low or high). Pure rules, no I/O.

Impossible values (refused, with the valid range in the message) are beyond what a
living patient in a clinic shows or a clinic instrument reads: height 20-272 cm (an
extremely preterm newborn; the tallest person on record), weight 0.2-650 kg, head
circumference 15-75 cm, temperature 25-45 °C, heart rate 20-300/min, respiratory rate
3-120/min, systolic 40-300 and diastolic 10-200 mmHg (diastolic below systolic), SpO2
50-100 %, pain 0-10.

Normal ranges, by age band (a value outside is flagged; inclusive bounds):

* Adults (18 y and over): the ranges scoring 0 in NEWS2 (Royal College of Physicians,
  *National Early Warning Score (NEWS) 2*, 2017) for respiratory rate 12-20/min, SpO2
  96-100 % (scale 1), heart rate 51-90/min and temperature 36.1-38.0 °C. Blood pressure:
  high from the clinic hypertension threshold of NICE NG136 (*Hypertension in adults*,
  2019: 140/90 mmHg), low at or below NEWS2's red systolic score (≤ 90 mmHg) and below
  60 mmHg diastolic (the usual 90/60 hypotension threshold, AHA). BMI: the WHO adult
  classes (normal 18.5-24.9 kg/m², WHO Technical Report Series 894, 2000).
* Children: the American Heart Association's PALS normal values (*Pediatric Advanced
  Life Support Provider Manual*, 2020, tables "Normal heart rates", "Normal respiratory
  rates" and "Normal blood pressures"), per band: newborn (under 28 days; PALS
  "neonate", the 96-hour blood pressure row), infant (28 days to 1 y), toddler (1-2 y),
  preschool (3-5 y), school age (6-11 y; PALS "school-age" and "preadolescent" merged),
  adolescent (12-17 y). Temperature: fever from 38.0 °C and below 36.0 °C low (NICE
  NG143, *Fever in under 5s*, 2019; NICE NG51 *Sepsis*). SpO2: below 94 % on room air is
  hypoxaemia (PALS 2020).
* Pain (numeric rating 0-10, any age): 0-3 mild, 4 and above flagged (the usual cut
  points mild 1-3, moderate 4-6, severe 7-10; Serlin et al., *Pain* 1995).
* Height, weight and head circumference are not flagged: a child's need a growth
  centile, an adult's have no normal range. BMI is flagged for adults only.

A flag is a prompt to look, not a diagnosis; the clinician judges the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from clinicdesk.clinical.kernel.units import (
    UCUM,
    UNIT_LABELS,
    Dimension,
    UnitSystem,
    from_metric,
    plain,
    rounded,
    to_metric,
)


@dataclass(frozen=True, slots=True)
class Vital:
    """One kind of vital sign. ``key``: its name in forms and the API; ``code``: LOINC;
    ``unit``: the stored UCUM unit; ``places``: stored decimal places; ``lowest`` and
    ``highest``: the possible values (stored unit), None for a computed kind."""

    key: str
    code: str
    label: str
    unit: str
    places: int
    dimension: Dimension | None = None
    lowest: Decimal | None = None
    highest: Decimal | None = None
    computed: bool = False

    def unit_in(self, system: UnitSystem) -> str:
        """The UCUM unit this kind is typed and read in, in ``system``."""
        return UCUM[self.dimension][system] if self.dimension else self.unit

    def places_in(self, system: UnitSystem) -> int:
        """Decimal places a value is shown with (imperial: to 0.1)."""
        if self.dimension is None:
            return self.places
        if system is UnitSystem.IMPERIAL or self.dimension is Dimension.TEMPERATURE:
            return 1
        return self.places

    def shown(self, value: Decimal, system: UnitSystem) -> Decimal:
        """A stored value as read in ``system``."""
        if self.dimension is None:
            return value
        return rounded(from_metric(self.dimension, value, system), self.places_in(system))

    def text(self, value: Decimal, system: UnitSystem) -> str:
        """``72.5 kg``, ``98.6 °F``."""
        return f"{plain(self.shown(value, system))} {UNIT_LABELS[self.unit_in(system)]}"


def _d(text: str) -> Decimal:
    return Decimal(text)


HEIGHT = Vital("height", "8302-2", "Height", "cm", 1, Dimension.LENGTH, _d("20"), _d("272"))
WEIGHT = Vital("weight", "29463-7", "Weight", "kg", 3, Dimension.MASS, _d("0.2"), _d("650"))
BMI = Vital("bmi", "39156-5", "BMI", "kg/m2", 1, computed=True)
TEMPERATURE = Vital(
    "temperature", "8310-5", "Temperature", "Cel", 2, Dimension.TEMPERATURE, _d("25"), _d("45")
)
HEART_RATE = Vital("heart_rate", "8867-4", "Pulse", "/min", 0, None, _d("20"), _d("300"))
RESPIRATORY_RATE = Vital(
    "respiratory_rate", "9279-1", "Respiratory rate", "/min", 0, None, _d("3"), _d("120")
)
SYSTOLIC = Vital("systolic", "8480-6", "Systolic BP", "mm[Hg]", 0, None, _d("40"), _d("300"))
DIASTOLIC = Vital("diastolic", "8462-4", "Diastolic BP", "mm[Hg]", 0, None, _d("10"), _d("200"))
SPO2 = Vital("spo2", "59408-5", "SpO2", "%", 0, None, _d("50"), _d("100"))
PAIN = Vital("pain", "72514-3", "Pain score", "{score}", 0, None, _d("0"), _d("10"))
HEAD = Vital(
    "head_circumference",
    "9843-4",
    "Head circumference",
    "cm",
    1,
    Dimension.LENGTH,
    _d("15"),
    _d("75"),
)

# In the order a form asks for them and a set is shown.
VITALS: tuple[Vital, ...] = (
    HEIGHT,
    WEIGHT,
    BMI,
    TEMPERATURE,
    HEART_RATE,
    RESPIRATORY_RATE,
    SYSTOLIC,
    DIASTOLIC,
    SPO2,
    PAIN,
    HEAD,
)
BY_KEY: dict[str, Vital] = {v.key: v for v in VITALS}
BY_CODE: dict[str, Vital] = {v.code: v for v in VITALS}
ENTERED: tuple[Vital, ...] = tuple(v for v in VITALS if not v.computed)


class AgeBand(StrEnum):
    NEWBORN = "newborn"
    INFANT = "infant"
    TODDLER = "toddler"
    PRESCHOOL = "preschool"
    SCHOOL_AGE = "school-age"
    ADOLESCENT = "adolescent"
    ADULT = "adult"


def age_band(birth_date: date, on: date) -> AgeBand:
    """The band of a patient born on ``birth_date`` on the day ``on``."""
    if (on - birth_date).days < 28:
        return AgeBand.NEWBORN
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    for below, band in ((1, AgeBand.INFANT), (3, AgeBand.TODDLER), (6, AgeBand.PRESCHOOL)):
        if years < below:
            return band
    if years < 12:
        return AgeBand.SCHOOL_AGE
    return AgeBand.ADOLESCENT if years < 18 else AgeBand.ADULT


def years_old(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


class Flag(StrEnum):
    """HL7 v3 ObservationInterpretation: normal, low, high."""

    NORMAL = "N"
    LOW = "L"
    HIGH = "H"

    @property
    def word(self) -> str:
        return {"N": "Normal", "L": "Low", "H": "High"}[self.value]


_CHILD = (
    AgeBand.NEWBORN,
    AgeBand.INFANT,
    AgeBand.TODDLER,
    AgeBand.PRESCHOOL,
    AgeBand.SCHOOL_AGE,
    AgeBand.ADOLESCENT,
)


def _per_band(**ranges: tuple[int, int]) -> dict[AgeBand, tuple[Decimal, Decimal]]:
    names = {b.name.lower(): b for b in AgeBand}
    return {names[name]: (Decimal(lo), Decimal(hi)) for name, (lo, hi) in ranges.items()}


def _all_children(lo: str, hi: str) -> dict[AgeBand, tuple[Decimal, Decimal]]:
    return dict.fromkeys(_CHILD, (Decimal(lo), Decimal(hi)))


# Normal ranges in the stored unit (sources: the module docstring).
NORMAL: dict[str, dict[AgeBand, tuple[Decimal, Decimal]]] = {
    "heart_rate": _per_band(
        newborn=(100, 205),
        infant=(100, 180),
        toddler=(98, 140),
        preschool=(80, 120),
        school_age=(75, 118),
        adolescent=(60, 100),
        adult=(51, 90),
    ),
    "respiratory_rate": _per_band(
        newborn=(30, 53),
        infant=(30, 53),
        toddler=(22, 37),
        preschool=(20, 28),
        school_age=(18, 25),
        adolescent=(12, 20),
        adult=(12, 20),
    ),
    "systolic": _per_band(
        newborn=(67, 84),
        infant=(72, 104),
        toddler=(86, 106),
        preschool=(89, 112),
        school_age=(97, 120),
        adolescent=(110, 131),
        adult=(91, 139),
    ),
    "diastolic": _per_band(
        newborn=(35, 53),
        infant=(37, 56),
        toddler=(42, 63),
        preschool=(46, 72),
        school_age=(57, 80),
        adolescent=(64, 83),
        adult=(60, 89),
    ),
    "temperature": {
        **_all_children("36.00", "37.99"),
        AgeBand.ADULT: (Decimal("36.10"), Decimal("38.00")),
    },
    "spo2": {**_all_children("94", "100"), AgeBand.ADULT: (Decimal(96), Decimal(100))},
    "pain": dict.fromkeys(AgeBand, (Decimal(0), Decimal(3))),
    "bmi": {AgeBand.ADULT: (Decimal("18.5"), Decimal("24.9"))},
}


def normal_range(key: str, band: AgeBand) -> tuple[Decimal, Decimal] | None:
    return NORMAL.get(key, {}).get(band)


def interpret(key: str, value: Decimal, band: AgeBand) -> Flag | None:
    """Low, normal or high for a patient of ``band``; None where no range applies
    (height, weight, head circumference; a child's BMI)."""
    found = normal_range(key, band)
    if found is None:
        return None
    low, high = found
    if value < low:
        return Flag.LOW
    return Flag.HIGH if value > high else Flag.NORMAL


def _bounds(vital: Vital) -> tuple[Decimal, Decimal]:
    if vital.lowest is None or vital.highest is None:
        raise ValueError(f"{vital.key} is computed, never typed")
    return vital.lowest, vital.highest


def possible_range_text(vital: Vital, system: UnitSystem) -> str:
    """The possible values in the unit a person typed: "between 77 and 113 °F". The
    bounds are rounded inwards, so every value inside the words is accepted."""
    low, high = _bounds(vital)
    places = vital.places_in(system)
    if vital.dimension is not None:
        low = from_metric(vital.dimension, low, system)
        high = from_metric(vital.dimension, high, system)
    step = Decimal(1).scaleb(-places)
    low_shown = rounded(low, places)
    if low_shown < low:
        low_shown += step
    high_shown = rounded(high, places)
    if high_shown > high:
        high_shown -= step
    unit = UNIT_LABELS[vital.unit_in(system)]
    return f"between {plain(low_shown)} and {plain(high_shown)} {unit}"


@dataclass(frozen=True, slots=True)
class Checked:
    """A set as typed, checked: the stored (metric, rounded) values and a message per
    refused field."""

    values: dict[str, Decimal]
    problems: dict[str, str]


def check_entry(typed: Mapping[str, Decimal], system: UnitSystem) -> Checked:
    """Convert a set typed in ``system`` to stored values and refuse what is impossible.

    Rules: a count (pulse, rates, pressures, SpO2, pain) is a whole number; every value
    lies in its kind's possible range, checked on the value as it will be stored and
    reported in the unit typed; a blood pressure is both numbers, the diastolic below the
    systolic; a computed kind (BMI) is never typed; at least one value is given."""
    values: dict[str, Decimal] = {}
    problems: dict[str, str] = {}
    for key, value in typed.items():
        vital = BY_KEY.get(key)
        if vital is None or vital.computed:
            problems[key] = "This value is not typed in; it is computed on saving."
            continue
        if not value.is_finite():
            problems[key] = "Type a number."
            continue
        if vital.places == 0 and value != value.to_integral_value():
            problems[key] = f"{vital.label} is a whole number."
            continue
        stored = value
        if vital.dimension is not None:
            stored = to_metric(vital.dimension, value, system)
        stored = rounded(stored, vital.places)
        lowest, highest = _bounds(vital)
        if not lowest <= stored <= highest:
            problems[key] = f"{vital.label} must be {possible_range_text(vital, system)}."
            continue
        values[key] = stored
    _check_pressure(typed, values, problems)
    if not typed and not problems:
        problems["form"] = "Type at least one measurement."
    return Checked(values, problems)


def _check_pressure(
    typed: Mapping[str, Decimal], values: dict[str, Decimal], problems: dict[str, str]
) -> None:
    has_systolic, has_diastolic = "systolic" in typed, "diastolic" in typed
    if has_systolic and not has_diastolic:
        problems.setdefault("diastolic", "A blood pressure needs both numbers: type the diastolic.")
    elif has_diastolic and not has_systolic:
        problems.setdefault("systolic", "A blood pressure needs both numbers: type the systolic.")
    elif (
        "systolic" in values and "diastolic" in values and values["diastolic"] >= values["systolic"]
    ):
        problems["diastolic"] = "The diastolic pressure must be below the systolic."


def body_mass_index(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """kg/m², to 0.1."""
    metres = height_cm / Decimal(100)
    return rounded(weight_kg / (metres * metres), BMI.places)
