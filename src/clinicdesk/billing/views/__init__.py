"""The billing pages: outstanding balances (the aging report and a patient's statement)."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.billing.views import balances
from clinicdesk.core.routing import APIRouter

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(balances.router)

__all__ = ["TEMPLATES_DIR", "router"]
