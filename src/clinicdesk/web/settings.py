"""The settings area's index: the sections every domain lists (``SETTINGS`` in its views
package), those the signed-in person may open."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from clinicdesk.billing import views as billing_views
from clinicdesk.clinical import views as clinical_views
from clinicdesk.core.pages import render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.settings_index import SettingsSection
from clinicdesk.identity import views as identity_views
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.notifications import views as notifications_views
from clinicdesk.patients import views as patients_views
from clinicdesk.scheduling import views as scheduling_views

SECTIONS: tuple[SettingsSection, ...] = (
    *identity_views.SETTINGS,
    *scheduling_views.SETTINGS,
    *clinical_views.SETTINGS,
    *patients_views.SETTINGS,
    *billing_views.SETTINGS,
    *notifications_views.SETTINGS,
)

router = APIRouter(include_in_schema=False)


@router.get("/admin/settings", response_class=HTMLResponse)
async def settings_index(request: Request, actor: AdminSettings) -> HTMLResponse:
    shown = [s for s in SECTIONS if actor.can(s.permission)]
    return render(request, "web/settings.html", {"sections": shown})
