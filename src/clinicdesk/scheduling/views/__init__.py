"""HTML pages of the scheduling domain: the calendar, booking and appointment dialogs,
the day list, calendar feed links, and the chart's appointments fragment."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from clinicdesk.scheduling.views import appointments, calendar, feeds, patients

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(calendar.router)
router.include_router(appointments.router)
router.include_router(feeds.router)
router.include_router(patients.router)

# The private .ics feed: calendar apps fetch it without a session.
public = feeds.public

__all__ = ["TEMPLATES_DIR", "public", "router"]
