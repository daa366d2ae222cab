"""HTML pages of the patients domain (htmx fragments from the same templates)."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.core.routing import APIRouter
from clinicdesk.patients.views import (
    chart,
    documents,
    insurance,
    merge,
    portal,
    records,
    restricted,
)

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
# The ICD-10 picker (a fixed path) goes before /patients/{patient_id}.
router.include_router(chart.router)
router.include_router(records.router)
router.include_router(merge.router)
router.include_router(documents.router)
router.include_router(portal.router)
router.include_router(restricted.router)
router.include_router(insurance.router)

# The settings pages this domain owns (the settings index lists them).
SETTINGS = insurance.SETTINGS

__all__ = ["SETTINGS", "TEMPLATES_DIR", "router"]
