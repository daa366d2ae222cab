"""JSON API of patients: registration, search, the chart, documents and merges
(``records``), and restricted records with emergency access (``restricted``)."""

from __future__ import annotations

from clinicdesk.core.routing import APIRouter
from clinicdesk.patients.api import records, restricted

router = APIRouter()
router.include_router(records.router)
router.include_router(restricted.router)

__all__ = ["router"]
