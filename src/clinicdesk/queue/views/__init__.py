"""The queue screens: the front-desk board, the doctor's queue, waiting-room displays
(public, by link), the patient's own status page (public, by link)."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.core.routing import APIRouter
from clinicdesk.queue.views import actions, board, displays, doctor, status

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
# Fixed paths (/queue/mine, /queue/displays) before the front desk's.
router.include_router(doctor.router)
router.include_router(displays.router)
router.include_router(board.router)
router.include_router(actions.router)
router.include_router(status.router)

# Opened by link, without signing in: a waiting-room screen, a patient's status page.
public = APIRouter(include_in_schema=False)
public.include_router(displays.public)
public.include_router(status.public)

__all__ = ["TEMPLATES_DIR", "public", "router"]
