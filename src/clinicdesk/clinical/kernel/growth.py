"""Paediatric growth centiles: where a child's height, weight, BMI or head circumference
lies among children of the same age and sex.

The tables and the LMS arithmetic are the Royal College of Paediatrics and Child
Health's ``rcpchgrowth`` package (AGPL-3.0-or-later, the library behind the NHS digital
growth charts), with its WHO reference: the WHO Child Growth Standards (2006, birth to 5
years) and the WHO Growth Reference (2007, 5 to 19 years). The package reads its tables
and imports numpy and scipy when first used (seconds), so it is imported here on the
first centile asked for, never when the server starts.

Rules: a centile is given only for a patient under 18 whose sex at birth is female or
male (the tables are per sex), from birth date and day measured (chronological age, no
correction for prematurity); a measurement outside the tables' ages gives none. A centile
is information for the clinician; nothing is flagged from it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

REFERENCE = "who"
REFERENCE_NAME = "WHO: 2006 standards to 5 y, 2007 reference to 19 y"
UNTIL_YEARS = 18
# Our kinds -> rcpchgrowth's measurement methods ("ofc": occipitofrontal circumference).
METHODS = {"height": "height", "weight": "weight", "bmi": "bmi", "head_circumference": "ofc"}
SEXES = ("female", "male")


def applies(kind: str, sex_at_birth: str, birth_date: date, on: date) -> bool:
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return kind in METHODS and sex_at_birth in SEXES and 0 <= years < UNTIL_YEARS


def centile(
    kind: str, value: Decimal, *, sex_at_birth: str, birth_date: date, on: date
) -> Decimal | None:
    """The centile (0-100, to 0.1) of ``value`` (stored unit: cm, kg, kg/m2), or None
    where no table applies."""
    if not applies(kind, sex_at_birth, birth_date, on):
        return None
    # A slow import (numpy, scipy, the tables), made on the first centile only.
    from rcpchgrowth import Measurement  # type: ignore[import-untyped]

    try:
        calculated = Measurement(
            birth_date=birth_date,
            observation_date=on,
            measurement_method=METHODS[kind],
            observation_value=float(value),
            reference=REFERENCE,
            sex=sex_at_birth,
        ).measurement["measurement_calculated_values"]
    except (ValueError, LookupError, TypeError):
        # Outside the tables (an age or value they do not cover): no centile.
        return None
    found = calculated.get("chronological_centile")
    if found is None:
        return None
    return Decimal(str(round(float(found), 1)))
