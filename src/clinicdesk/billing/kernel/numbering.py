"""Document number formats: ``INV-{year}-{seq:06d}`` by default, set per organization.

A format uses ``{year}`` and ``{seq}`` (with an integer format spec such as ``:06d``),
both: the sequence restarts each year, so a format without the year would repeat.
"""

from __future__ import annotations

from string import Formatter

DEFAULT_INVOICE_FORMAT = "INV-{year}-{seq:06d}"
DEFAULT_CREDIT_NOTE_FORMAT = "CN-{year}-{seq:06d}"
MAX_NUMBER_LENGTH = 40


def format_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot number documents, or None when it can."""
    try:
        fields = [
            name for _text, name, _spec, _conv in Formatter().parse(pattern) if name is not None
        ]
    except ValueError:
        return "Braces must pair up: use {year} and {seq}, such as INV-{year}-{seq:06d}."
    unknown = sorted({f for f in fields if f not in ("year", "seq")})
    if unknown:
        return f"Only {{year}} and {{seq}} may be used, not {{{unknown[0]}}}."
    if "seq" not in fields or "year" not in fields:
        # Without {year} the series, which restarts each year, would repeat numbers.
        return "The format must contain {year} and {seq}, such as INV-{year}-{seq:06d}."
    try:
        sample = pattern.format(year=2026, seq=999999)
    except (ValueError, IndexError, KeyError):
        return "The format cannot be filled in; use, for example, INV-{year}-{seq:06d}."
    if len(sample) > MAX_NUMBER_LENGTH:
        return f"A number made by this format is longer than {MAX_NUMBER_LENGTH} characters."
    return None


def render(pattern: str, *, year: int, seq: int) -> str:
    return pattern.format(year=year, seq=seq)
