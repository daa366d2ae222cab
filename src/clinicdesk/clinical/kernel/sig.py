"""The sig: the readable directions a prescription prints, generated from its structure
("Take 1 tablet by mouth twice daily for 7 days"), never typed twice.

Pure: the form, route and frequency vocabularies with their words, the text, and the
quantity a course needs (what the prescriber is offered when the quantity is empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class DoseForm(StrEnum):
    TABLET = "tablet"
    CAPSULE = "capsule"
    ML = "ml"
    DROP = "drop"
    PUFF = "puff"
    PATCH = "patch"
    SUPPOSITORY = "suppository"
    APPLICATION = "application"
    UNIT = "unit"
    SACHET = "sachet"

    def words(self, amount: Decimal) -> str:
        """The unit as it reads after the amount: "1 tablet", "2 patches", "5 mL"."""
        if self is DoseForm.ML:
            return "mL"
        if amount == 1:
            return self.value
        return {"patch": "patches", "suppository": "suppositories"}.get(
            self.value, f"{self.value}s"
        )

    @property
    def label(self) -> str:
        return {"ml": "mL (liquid)"}.get(self.value, self.value.capitalize())


class Route(StrEnum):
    ORAL = "oral"
    SUBLINGUAL = "sublingual"
    TOPICAL = "topical"
    INHALED = "inhaled"
    NASAL = "nasal"
    EYE = "eye"
    EAR = "ear"
    RECTAL = "rectal"
    VAGINAL = "vaginal"
    SUBCUTANEOUS = "subcutaneous"
    INTRAMUSCULAR = "intramuscular"
    TRANSDERMAL = "transdermal"

    @property
    def verb(self) -> str:
        return {
            "oral": "Take",
            "sublingual": "Dissolve",
            "topical": "Apply",
            "inhaled": "Inhale",
            "nasal": "Spray",
            "eye": "Instil",
            "ear": "Instil",
            "rectal": "Insert",
            "vaginal": "Insert",
            "subcutaneous": "Inject",
            "intramuscular": "Inject",
            "transdermal": "Apply",
        }[self.value]

    @property
    def phrase(self) -> str:
        return {
            "oral": "by mouth",
            "sublingual": "under the tongue",
            "topical": "to the skin",
            "inhaled": "by inhalation",
            "nasal": "into each nostril",
            "eye": "into the eye",
            "ear": "into the ear",
            "rectal": "rectally",
            "vaginal": "vaginally",
            "subcutaneous": "under the skin",
            "intramuscular": "into the muscle",
            "transdermal": "to the skin",
        }[self.value]

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Frequency(StrEnum):
    """How often; ``per_day`` is what a course's quantity is counted from (a weekly dose
    is a seventh of a dose a day; "once" and "as needed" alone have no daily count)."""

    ONCE = "once"
    DAILY = "daily"
    BID = "bid"
    TID = "tid"
    QID = "qid"
    Q4H = "q4h"
    Q6H = "q6h"
    Q8H = "q8h"
    Q12H = "q12h"
    BEDTIME = "bedtime"
    MORNING = "morning"
    WEEKLY = "weekly"

    @property
    def words(self) -> str:
        return {
            "once": "once",
            "daily": "once daily",
            "bid": "twice daily",
            "tid": "three times daily",
            "qid": "four times daily",
            "q4h": "every 4 hours",
            "q6h": "every 6 hours",
            "q8h": "every 8 hours",
            "q12h": "every 12 hours",
            "bedtime": "at bedtime",
            "morning": "every morning",
            "weekly": "once weekly",
        }[self.value]

    @property
    def per_day(self) -> Decimal | None:
        return {
            "once": None,
            "daily": Decimal(1),
            "bid": Decimal(2),
            "tid": Decimal(3),
            "qid": Decimal(4),
            "q4h": Decimal(6),
            "q6h": Decimal(4),
            "q8h": Decimal(3),
            "q12h": Decimal(2),
            "bedtime": Decimal(1),
            "morning": Decimal(1),
            "weekly": Decimal(1) / Decimal(7),
        }[self.value]


@dataclass(frozen=True, slots=True)
class Directions:
    dose: Decimal
    form: DoseForm
    route: Route
    frequency: Frequency
    duration_days: int | None = None
    as_needed_for: str | None = None
    instructions: str | None = None


def amount_text(amount: Decimal) -> str:
    """``Decimal("1.500")`` reads "1.5", ``Decimal("0.5")`` "0.5", ``Decimal("2")`` "2"."""
    return format(amount.normalize(), "f")


def _duration(days: int) -> str:
    if days % 7 == 0 and days >= 14:
        return f"for {days // 7} weeks"
    return "for 1 day" if days == 1 else f"for {days} days"


def sig_text(d: Directions) -> str:
    """One sentence: verb, amount and unit, route, frequency, "as needed for ...",
    duration, then the prescriber's extra instructions as written."""
    parts = [d.route.verb, amount_text(d.dose), d.form.words(d.dose), d.route.phrase]
    parts.append(d.frequency.words)
    if d.as_needed_for:
        parts.append(f"as needed for {d.as_needed_for.strip()}")
    if d.duration_days and d.frequency is not Frequency.ONCE:
        parts.append(_duration(d.duration_days))
    text = " ".join(parts) + "."
    if d.instructions and d.instructions.strip():
        extra = d.instructions.strip()
        text += " " + extra[0].upper() + extra[1:] + ("" if extra[-1] in ".!?" else ".")
    return text


def course_quantity(d: Directions) -> Decimal | None:
    """Units a whole course needs (doses a day times days, whole units rounded up); None when
    it cannot be counted (no duration, a single dose, only as needed)."""
    if d.frequency is Frequency.ONCE:
        return d.dose
    per_day = d.frequency.per_day
    if per_day is None or not d.duration_days or d.as_needed_for:
        return None
    return Decimal(math.ceil(d.dose * per_day * d.duration_days))
