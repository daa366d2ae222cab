"""The notification pages: the messages log, templates and channel settings (admin), the
staff's own alerts, and the patient's no-sign-in reply links."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.core.routing import APIRouter
from clinicdesk.notifications.views import alerts as alerts_views
from clinicdesk.notifications.views import messages, replies, settings, templates

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

router = APIRouter(include_in_schema=False)
router.include_router(messages.router)
router.include_router(settings.router)
router.include_router(templates.router)
router.include_router(alerts_views.router)
# Pages anyone may open without signing in (a patient's single-use reply link).
public = APIRouter(include_in_schema=False)
public.include_router(replies.public)

# Sections of the settings area (``/admin/settings``).
SETTINGS = settings.SETTINGS

__all__ = ["SETTINGS", "TEMPLATES_DIR", "public", "router"]
