"""HTML pages of identity: signing in (``sign_in``), recovery and invitation links
(``recovery``), the user's own account (``account``), and administration (``admin``:
staff, organization, locations, the audit report page; ``jobs``: background jobs)."""

from __future__ import annotations

from pathlib import Path

from clinicdesk.core.routing import APIRouter
from clinicdesk.core.settings_index import SettingsSection
from clinicdesk.identity.views import account, admin, jobs, recovery, rooms, sign_in
from clinicdesk.identity.views.sign_in import login_page

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

# Reached before anyone is signed in.
public = APIRouter(include_in_schema=False)
public.include_router(sign_in.public)
public.include_router(recovery.public)

router = APIRouter(include_in_schema=False)
router.include_router(sign_in.router)
router.include_router(account.router)
router.include_router(admin.router)
router.include_router(jobs.router)
router.include_router(rooms.router)

# Sections of the settings area (``/admin/settings``).
SETTINGS = (
    SettingsSection(
        "Organization and locations",
        "/admin/organization",
        "Name, time zone, date format, two-factor rules; the locations and their addresses.",
    ),
    SettingsSection(
        "Rooms",
        rooms.PAGE,
        "Where patients are called to at each location.",
    ),
)

__all__ = ["SETTINGS", "TEMPLATES_DIR", "login_page", "public", "router"]
