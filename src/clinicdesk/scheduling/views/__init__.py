"""HTML pages of the scheduling domain: the calendar, booking and appointment dialogs,
the day list, calendar feed links, the chart's appointments fragment, the patient's
own appointments in the portal, and the appointment book's settings pages."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.core.routing import APIRouter
from clinicdesk.core.settings_index import SettingsSection
from clinicdesk.scheduling.views import (
    appointments,
    calendar,
    feeds,
    patients,
    portal,
    settings,
    settings_types,
)

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(calendar.router)
router.include_router(appointments.router)
router.include_router(feeds.router)
router.include_router(patients.router)
router.include_router(portal.router)  # the patient's own appointments in the portal
router.include_router(settings.router)
router.include_router(settings_types.router)

# Sections of the settings area (``/admin/settings``).
SETTINGS = (
    SettingsSection(
        "Providers' hours and time off",
        settings.PROVIDERS,
        "Each provider's regular week at each location, days off and extra hours.",
    ),
    SettingsSection(
        "Appointment types",
        settings_types.TYPES,
        "What can be booked: length, buffer, colour, online booking.",
    ),
    SettingsSection(
        "Holidays and closures",
        settings.HOLIDAYS,
        "Days or hours a location is closed to bookings.",
    ),
    SettingsSection(
        "Booking rules",
        settings_types.RULES,
        "Notice, how far ahead, cancellation window and open bookings for the portal.",
    ),
)

# The private .ics feed: calendar apps fetch it without a session.
public = feeds.public

__all__ = ["SETTINGS", "TEMPLATES_DIR", "public", "router"]
