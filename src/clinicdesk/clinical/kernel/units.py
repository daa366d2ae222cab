"""Units of vital signs: what is stored (UCUM, metric) and what a clinic on imperial units
types and reads. Pure Decimal arithmetic, no floats anywhere.

The rules:

* Stored values are always metric, in the UCUM unit of their kind: ``cm``, ``kg``,
  ``Cel``. An imperial clinic types and reads ``[in_i]``, ``[lb_av]``, ``[degF]``.
* The factors are the exact definitions: 1 in = 2.54 cm (international inch, 1959);
  1 lb = 0.45359237 kg (international avoirdupois pound, 1959); °C = (°F - 32) * 5/9.
  The arithmetic runs at 28 significant digits (Decimal's default context) and is
  rounded once, at the end, to the places of the stored or shown value, half up.
* Stored places are chosen so that an imperial value typed to 0.1 comes back as the
  same 0.1 (the round trip the property tests prove): a length is stored to 0.1 cm
  (0.04 in), a weight to 1 g, a temperature to 0.01 °C (0.018 °F).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CM_PER_INCH = Decimal("2.54")
KG_PER_POUND = Decimal("0.45359237")
FAHRENHEIT_ZERO = Decimal(32)
CELSIUS_PER_FAHRENHEIT = Decimal(5) / Decimal(9)


class UnitSystem(StrEnum):
    """An organization's choice of the units its staff type and read."""

    METRIC = "metric"
    IMPERIAL = "imperial"

    @property
    def label(self) -> str:
        return {"metric": "Metric (cm, kg, °C)", "imperial": "Imperial (in, lb, °F)"}[self.value]


class Dimension(StrEnum):
    """What a vital measures, for the kinds whose unit depends on the unit system."""

    LENGTH = "length"
    MASS = "mass"
    TEMPERATURE = "temperature"


# UCUM code of each dimension's unit in each system; the metric one is the stored one.
UCUM: dict[Dimension, dict[UnitSystem, str]] = {
    Dimension.LENGTH: {UnitSystem.METRIC: "cm", UnitSystem.IMPERIAL: "[in_i]"},
    Dimension.MASS: {UnitSystem.METRIC: "kg", UnitSystem.IMPERIAL: "[lb_av]"},
    Dimension.TEMPERATURE: {UnitSystem.METRIC: "Cel", UnitSystem.IMPERIAL: "[degF]"},
}

# How a person reads a UCUM code.
UNIT_LABELS: dict[str, str] = {
    "cm": "cm",
    "kg": "kg",
    "kg/m2": "kg/m²",
    "Cel": "°C",
    "/min": "/min",
    "mm[Hg]": "mmHg",
    "%": "%",
    "{score}": "/10",
    "[in_i]": "in",
    "[lb_av]": "lb",
    "[degF]": "°F",
}


def to_metric(dimension: Dimension, value: Decimal, system: UnitSystem) -> Decimal:
    """``value`` typed in ``system`` as the stored metric unit, unrounded."""
    if system is UnitSystem.METRIC:
        return value
    if dimension is Dimension.LENGTH:
        return value * CM_PER_INCH
    if dimension is Dimension.MASS:
        return value * KG_PER_POUND
    return (value - FAHRENHEIT_ZERO) * CELSIUS_PER_FAHRENHEIT


def from_metric(dimension: Dimension, value: Decimal, system: UnitSystem) -> Decimal:
    """A stored metric ``value`` in ``system``, unrounded."""
    if system is UnitSystem.METRIC:
        return value
    if dimension is Dimension.LENGTH:
        return value / CM_PER_INCH
    if dimension is Dimension.MASS:
        return value / KG_PER_POUND
    return value / CELSIUS_PER_FAHRENHEIT + FAHRENHEIT_ZERO


def rounded(value: Decimal, places: int) -> Decimal:
    """``value`` to ``places`` decimal places, half up (the way a person rounds)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """A Decimal as a person writes it: no exponent, no trailing zeros (``72.5``, ``180``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
