"""HTML pages of the scheduling domain: the calendar, booking and appointment dialogs,
the day list, calendar feed links, the chart's appointments fragment, and the patient's
own appointments in the portal."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from clinicdesk.scheduling.views import appointments, calendar, feeds, patients, portal

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(calendar.router)
router.include_router(appointments.router)
router.include_router(feeds.router)
router.include_router(patients.router)
router.include_router(portal.router)  # the patient's own appointments in the portal

# The private .ics feed: calendar apps fetch it without a session.
public = feeds.public

__all__ = ["TEMPLATES_DIR", "public", "router"]
