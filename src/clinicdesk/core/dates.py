"""Calendar dates as an organization writes them ("DD/MM/YYYY", "MM/DD/YYYY", ...)."""

from __future__ import annotations

import re
from datetime import date

ISO = "YYYY-MM-DD"
_PARTS = re.compile(r"^(\d{1,4})[./\-](\d{1,2})[./\-](\d{1,4})$")
_ORDER = {
    "YYYY-MM-DD": ("y", "m", "d"),
    "DD/MM/YYYY": ("d", "m", "y"),
    "MM/DD/YYYY": ("m", "d", "y"),
    "DD.MM.YYYY": ("d", "m", "y"),
}


def parse_local_date(text: str, date_format: str) -> date | None:
    """``text`` read in the organization's format, or as ISO (unambiguous: four-digit year
    first); None when it is not a real calendar date. Any of ``/ . -`` separates."""
    match = _PARTS.match(text.strip())
    if not match:
        return None
    first, second, third = match.groups()
    order = ("y", "m", "d") if len(first) == 4 else _ORDER.get(date_format, _ORDER[ISO])
    values = dict(zip(order, (first, second, third), strict=True))
    if len(values["y"]) != 4:
        return None
    try:
        return date(int(values["y"]), int(values["m"]), int(values["d"]))
    except ValueError:
        return None


def format_local_date(value: date | None, date_format: str) -> str:
    if value is None:
        return ""
    order = _ORDER.get(date_format, _ORDER[ISO])
    separator = "." if "." in date_format else "/" if "/" in date_format else "-"
    parts = {"y": f"{value.year:04d}", "m": f"{value.month:02d}", "d": f"{value.day:02d}"}
    return separator.join(parts[p] for p in order)
