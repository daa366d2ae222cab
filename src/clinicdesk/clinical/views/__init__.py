"""The clinical pages: the consultation page with its sections, and the consultations
list the chart loads."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.clinical.views import (
    catalogue,
    consultation,
    diagnoses,
    notes,
    notes_settings,
    orders,
    prescription_sheets,
    prescriptions,
    recalls,
    vitals,
)
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.settings_index import SettingsSection

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(consultation.router)
router.include_router(vitals.router)
router.include_router(notes.router)
router.include_router(notes_settings.router)
router.include_router(diagnoses.router)
router.include_router(prescriptions.router)
router.include_router(orders.router)
router.include_router(catalogue.router)
router.include_router(prescription_sheets.router)
router.include_router(recalls.router)

# Opened without signing in: a pharmacy checks a printed prescription's code.
public = APIRouter(include_in_schema=False)
public.include_router(prescription_sheets.public)

# Sections of the settings area (``/admin/settings``).
SETTINGS = (
    SettingsSection(
        "Vital signs",
        vitals.SETTINGS_PAGE,
        "The units staff type and read vitals in: metric (cm, kg, °C) or imperial.",
    ),
    SettingsSection(
        "Lab and imaging tests",
        catalogue.TESTS,
        "The tests doctors order: kind, code, unit and reference ranges by sex and age.",
    ),
)

__all__ = ["SETTINGS", "TEMPLATES_DIR", "public", "router"]
