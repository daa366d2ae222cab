"""Quick phrases, the pure part: finding ``.trigger`` words in typed text and replacing
the known ones. No I/O: what a trigger expands to is looked up by the service.

A trigger is a dot, then a letter, then letters, digits, ``-`` or ``_`` (at most 30),
standing alone: not inside a word ("e.g." and "3.5" are not triggers, nor is
"notes.meds"). Matching ignores case, so ".Meds" at the start of a sentence works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

TRIGGER = re.compile(r"(?<![\w.])\.([A-Za-z][A-Za-z0-9_-]{0,29})(?![\w-])")


def find_triggers(text: str) -> set[str]:
    """The triggers written in ``text``, lower case, without their dot."""
    return {match.group(1).lower() for match in TRIGGER.finditer(text)}


def replace_triggers(text: str, expansions: Mapping[str, str]) -> str:
    """``text`` with each trigger found in ``expansions`` replaced by its text; unknown
    triggers stay as typed."""

    def replaced(match: re.Match[str]) -> str:
        return expansions.get(match.group(1).lower(), match.group(0))

    return TRIGGER.sub(replaced, text)


def age_text(birth_date: date, today: date) -> str:
    """The age as a note says it: whole years, or months under two, or days under a
    month ("3 years", "14 months", "9 days")."""
    if birth_date > today:
        return "not born yet (check the date of birth)"
    months = (today.year - birth_date.year) * 12 + today.month - birth_date.month
    if today.day < birth_date.day:
        months -= 1
    if months >= 24:
        years = months // 12
        return f"{years} years"
    if months >= 1:
        return f"{months} month{'s' if months != 1 else ''}"
    days = (today - birth_date).days
    return f"{days} day{'s' if days != 1 else ''}"
