"""Shared pieces of the queue screens: reading their forms, the words and times they
show, the live-update settings, and the QR code of a patient's status link."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from clinicdesk.core.errors import InvalidField
from clinicdesk.core.qr import qr_data_uri
from clinicdesk.queue.service.common import EVENT_PREFIX
from clinicdesk.queue.service.providers import PROVIDER_STATUS_EVENT
from clinicdesk.queue.vocabulary import (
    PRIORITY_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    Priority,
    ProviderState,
    VisitStep,
)

# What the screens listen to (an EventSource needs each event's name). ``reset`` and
# ``end`` are always listened to.
APPOINTMENT_EVENTS = ("booked", "arrived", "fulfilled", "rescheduled", "cancelled", "noshow")
STAFF_EVENTS = (
    *(f"{EVENT_PREFIX}{step.value}" for step in VisitStep),
    PROVIDER_STATUS_EVENT,
    *(f"appointment.{kind}" for kind in (*APPOINTMENT_EVENTS, "restored")),
)
DISPLAY_EVENTS = tuple(f"{EVENT_PREFIX}{step.value}" for step in VisitStep)
PATIENT_EVENTS = (*DISPLAY_EVENTS, "queue.changed")

# The states a person sets; "in consultation" follows starting and finishing.
SETTABLE_STATES = (
    ProviderState.AVAILABLE,
    ProviderState.BREAK,
    ProviderState.AWAY,
    ProviderState.IN_TRANSIT,
)

SCREENS = ("desk", "mine")


def words() -> dict[str, Any]:
    """The vocabularies the templates show."""
    return {
        "state_labels": STATE_LABELS,
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "settable_states": SETTABLE_STATES,
        "priorities": list(Priority),
    }


def clock(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """``10:42`` in the location's time zone."""

    def show(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%H:%M") if value else "—"

    return show


def live_settings(stream: str, events: tuple[str, ...]) -> dict[str, str]:
    return {"stream": stream, "events": " ".join(events)}


def ordinal(n: int) -> str:
    teens = 10 <= n % 100 <= 20
    return f"{n}{'th' if teens else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def wait_words(minutes: int | None) -> str:
    """``about 15 minutes``, ``about 1 h 10 min``; a wait under three minutes is short."""
    if minutes is None:
        return ""
    if minutes < 3:
        return "only a few minutes"
    if minutes < 60:
        return f"about {minutes} minutes"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h {rest:02d} min" if rest else f"about {hours} h"


def initials(name: str) -> str:
    """``Ann Queuea`` -> ``A. Q.`` (what a display shows when it shows anything)."""
    return " ".join(f"{part[0].upper()}." for part in name.split() if part[:1].isalpha())


def qr_image(link: str) -> str:
    """The link as a QR code, an SVG data URI (the CSP allows ``img-src data:``)."""
    return qr_data_uri(link)


def site_link(request: Request, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


# --- forms --------------------------------------------------------------------------------


def text(form: FormData, name: str, limit: int = 300) -> str | None:
    value = form.get(name)
    cleaned = value.strip()[:limit] if isinstance(value, str) else ""
    return cleaned or None


def some_id(form: FormData, name: str) -> uuid.UUID | None:
    value = text(form, name, 40)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidField(name, "Choose from the list.") from None


def screen_of(form: FormData) -> str:
    chosen = text(form, "screen", 10)
    return chosen if chosen in SCREENS else "desk"


def toast(response: Response, message: str, *, changed: bool = True) -> None:
    """An ``HX-Trigger``: a toast, and ``live:changed`` so every live region refreshes."""
    triggers: dict[str, Any] = {"clinicdesk:toast": {"message": message}}
    if changed:
        triggers["live:changed"] = True
    response.headers["HX-Trigger"] = json.dumps(triggers)
