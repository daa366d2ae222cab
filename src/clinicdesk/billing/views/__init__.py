"""The billing pages: the patient's own invoices in the portal."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.billing.views import portal
from clinicdesk.core.routing import APIRouter

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(portal.router)
