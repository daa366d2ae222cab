"""JSON API of patients: registration, search, the chart, documents and merges
(``records``), restricted records with emergency access (``restricted``), payers and
insurance policies (``insurance``)."""

from __future__ import annotations

from clinicdesk.core.routing import APIRouter
from clinicdesk.patients.api import insurance, records, restricted

router = APIRouter()
router.include_router(records.router)
router.include_router(restricted.router)
router.include_router(insurance.router)

__all__ = ["router"]
