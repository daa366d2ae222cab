"""Abnormal flags of a result and the reference range that applies to a patient.

Pure rules, no I/O. A numeric value is compared with the range that applies: below the
critical low limit is "critically low" (LL), below the low limit "low" (L), and the same
upwards (H, HH) - the HL7 v2 OBX-8 codes the lab's own report uses. The limits are
exclusive: a value equal to a limit is inside it, as labs print "3.5-5.1" and mean 3.5
is normal. A text result ("positive") is flagged "abnormal" (A) only when the person
entering it says so: no rule reads free text.

A test's catalogue entry may hold several ranges (by sex at birth and by age band); the
most specific one that fits the patient applies: a sex-specific range before one for
everybody, then the narrowest age band. A range with an age band never fits a patient
whose age is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise


class Flag(StrEnum):
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"
    ABNORMAL = "A"

    @property
    def label(self) -> str:
        return {
            "L": "Low",
            "H": "High",
            "LL": "Critically low",
            "HH": "Critically high",
            "A": "Abnormal",
        }[self.value]

    @property
    def critical(self) -> bool:
        return self in (Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH)


def severity(flag: Flag | str | None) -> int:
    """How urgently a result asks to be read: 2 critical, 1 abnormal, 0 normal or
    unflagged (the inbox sorts by it, highest first)."""
    if flag is None:
        return 0
    return 2 if Flag(flag).critical else 1


@dataclass(frozen=True, slots=True)
class Limits:
    """A reference range and, optionally, the critical limits around it. Any may be
    missing ("< 5.0" has only a high limit)."""

    low: Decimal | None = None
    high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None

    def problems(self) -> list[str]:
        """What makes these limits contradict each other, in words (empty when sound):
        critical low <= low <= high <= critical high, for those given."""
        order = [
            ("critical low", self.critical_low),
            ("low", self.low),
            ("high", self.high),
            ("critical high", self.critical_high),
        ]
        given = [(name, value) for name, value in order if value is not None]
        return [
            f"The {a} limit ({va}) is above the {b} limit ({vb})."
            for (a, va), (b, vb) in pairwise(given)
            if va > vb
        ]


def flag_for(value: Decimal, limits: Limits) -> Flag | None:
    """The flag of a numeric ``value`` against ``limits`` (None: within range, or no
    range to compare with). Critical limits are checked first, so a value beyond one is
    "critical" whatever the reference range says."""
    if limits.critical_low is not None and value < limits.critical_low:
        return Flag.CRITICAL_LOW
    if limits.critical_high is not None and value > limits.critical_high:
        return Flag.CRITICAL_HIGH
    if limits.low is not None and value < limits.low:
        return Flag.LOW
    if limits.high is not None and value > limits.high:
        return Flag.HIGH
    return None


@dataclass(frozen=True, slots=True)
class RangeBand:
    """One reference range of a test, for a sex at birth (None: everybody) and an age
    band in whole years, ``age_from`` inclusive and ``age_to`` exclusive (None: open)."""

    limits: Limits
    sex: str | None = None
    age_from: int | None = None
    age_to: int | None = None

    def fits(self, *, sex: str | None, age_years: int | None) -> bool:
        if self.sex is not None and self.sex != sex:
            return False
        if self.age_from is None and self.age_to is None:
            return True
        if age_years is None:
            return False
        if self.age_from is not None and age_years < self.age_from:
            return False
        return self.age_to is None or age_years < self.age_to

    def _specificity(self) -> tuple[int, int, float]:
        # Lower sorts first: sex-specific before everybody, any age band before none,
        # then the narrower age band.
        unbounded = self.age_from is None and self.age_to is None
        low = self.age_from if self.age_from is not None else 0
        width = float("inf") if self.age_to is None else float(self.age_to - low)
        return (0 if self.sex is not None else 1, 1 if unbounded else 0, width)


def pick_band(
    bands: Sequence[RangeBand], *, sex: str | None, age_years: int | None
) -> RangeBand | None:
    """The range that applies to a patient of ``sex`` and ``age_years`` (None when no
    range fits); among equally specific ones, the first listed."""
    fitting = [band for band in bands if band.fits(sex=sex, age_years=age_years)]
    if not fitting:
        return None
    return min(fitting, key=RangeBand._specificity)
