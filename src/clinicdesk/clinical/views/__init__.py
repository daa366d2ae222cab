"""The clinical pages: the consultation page with its sections, and the consultations
list the chart loads."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from clinicdesk.clinical.views import consultation, prescriptions

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(consultation.router)
router.include_router(prescriptions.router)

__all__ = ["TEMPLATES_DIR", "router"]
