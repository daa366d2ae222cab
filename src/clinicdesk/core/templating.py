"""Jinja2 templates for the web UI, rendered whole or one block at a time.

A view renders the page for a normal request and only the named block for an htmx
request (``HX-Request``), from one template (jinja2-fragments). Autoescape is on for
every template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from clinicdesk.core.dates import ISO, format_local_date
from clinicdesk.core.flash import FlashMessages
from clinicdesk.core.labels import label


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    permission: str | None = None
    """Shown only to actors with this permission (None: to every signed-in user)."""
    group: str | None = None
    """On a desktop, shown in a dropdown of this name (the administrator's pages: eleven
    links would not fit one row); the phone menu lists every item."""


ContextProcessor = Callable[[Request], Mapping[str, Any]]


def is_htmx(request: Request) -> bool:
    """An htmx fragment request (not a history restore, which needs the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1 h 2 min``; under a minute, in seconds."""
    total = int(seconds)
    if total < 60:
        return f"{total} s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


def format_local_time(
    value: datetime | None, time_zone: str | None = None, date_format: str = ISO
) -> str:
    """A UTC timestamp shown in the organization's time zone and date format:
    ``11/22/2026 09:30`` (``2026-11-22 09:30`` in ISO)."""
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = value.astimezone(zone)
    return f"{format_local_date(local.date(), date_format)} {local:%H:%M}"


def date_format_of(context: Context) -> str:
    """The signed-in organization's date format (``me.date_format``); ISO on pages
    without one (before sign-in)."""
    fmt = getattr(context.get("me"), "date_format", None)
    return fmt if isinstance(fmt, str) else ISO


@pass_context
def _localtime_filter(
    context: Context, value: datetime | None, time_zone: str | None = None
) -> str:
    return format_local_time(value, time_zone, date_format_of(context))


@pass_context
def _local_date_filter(
    context: Context, value: date | str | None, date_format: str | None = None
) -> str:
    # Every page's dates go through here: the organization's format unless one is given.
    # A view may hand over a wall-clock ISO string (``2026-11-23T09:00``): its date part.
    day: date | None
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value
    return format_local_date(day, date_format or date_format_of(context))


class Pages:
    """Renders templates with the shared layout context (navigation, flash messages)."""

    def __init__(
        self,
        directories: Sequence[Path],
        *,
        flashes: FlashMessages,
        nav: Sequence[NavItem],
        globals_: Mapping[str, Any],
        context_processors: Sequence[ContextProcessor] = (),
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader([str(d) for d in directories]),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(globals_)
        self.env.filters["duration"] = format_duration
        self.env.filters["localtime"] = _localtime_filter
        self.env.filters["local_date"] = _local_date_filter
        self.env.filters["label"] = label
        self.flashes = flashes
        self.nav = tuple(nav)
        self.context_processors = tuple(context_processors)

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The whole page, or only ``block`` when htmx asked for a fragment."""
        values: dict[str, Any] = {
            "request": request,
            "nav": self.nav,
            "current_path": request.url.path,
        }
        for processor in self.context_processors:
            values.update(processor(request))
        values.update(context or {})
        if block is not None and is_htmx(request):
            html = render_block(self.env, name, block, values)
            return HTMLResponse(html, status_code=status_code, headers=headers)
        flashes = self.flashes.read(request)
        values["flashes"] = flashes
        html = self.env.get_template(name).render(values)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        if flashes:
            self.flashes.clear(response)
        return response
