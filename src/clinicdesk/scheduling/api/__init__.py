"""JSON API of scheduling: appointments and set-up (staff), series and the waitlist
(staff), and the portal's own booking (patients)."""

from __future__ import annotations

from clinicdesk.core.routing import APIRouter
from clinicdesk.scheduling.api import appointments, portal, series

router = APIRouter()
router.include_router(appointments.router)
router.include_router(portal.router)
router.include_router(series.router)

__all__ = ["router"]
