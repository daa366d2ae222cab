"""The billing pages: invoices (list, page, the visit's checkout panel), the chart's
invoices section, the settings pages (fee schedule, number formats), outstanding balances
(the aging report and a patient's statement), and the patient's own invoices in the
portal."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.billing.views import balances, chart, fee_schedule, invoices, payments, portal
from clinicdesk.billing.views import claims as claim_views
from clinicdesk.billing.views import day_close as day_close_views
from clinicdesk.core.routing import APIRouter

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(invoices.router)
router.include_router(chart.router)
router.include_router(fee_schedule.router)
router.include_router(portal.router)
router.include_router(balances.router)
router.include_router(day_close_views.router)
router.include_router(payments.router)
router.include_router(claim_views.router)

# Sections of the settings area (``/admin/settings``).
SETTINGS = fee_schedule.SETTINGS

__all__ = ["SETTINGS", "TEMPLATES_DIR", "router"]
