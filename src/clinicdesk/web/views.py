"""The web shell: home page, system status and the API reference.

Routes stay thin: they call the same services as the JSON API and render a template.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from clinicdesk.core.actor import ActorKind
from clinicdesk.core.health import readiness
from clinicdesk.core.pages import pages
from clinicdesk.core.permissions import Permission
from clinicdesk.core.runtime import RuntimeDep
from clinicdesk.core.templating import NavItem
from clinicdesk.identity.auth import AdminSettings, SignedIn

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/"),
    NavItem("Patients", "/patients", Permission.PATIENTS_READ),
    NavItem("Calendar", "/calendar", Permission.SCHEDULING_READ),
    NavItem("Queue", "/queue", Permission.SCHEDULING_READ),
    NavItem("Staff", "/admin/users", Permission.ADMIN_USERS),
    NavItem("Organization", "/admin/organization", Permission.ADMIN_SETTINGS),
    NavItem("Audit trail", "/admin/audit", Permission.AUDIT_READ),
    NavItem("Emergency access", "/admin/emergency-access", Permission.AUDIT_READ),
    NavItem("System status", "/system-status", Permission.ADMIN_SETTINGS),
    NavItem("Jobs", "/admin/jobs", Permission.ADMIN_SETTINGS),
)

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, runtime: RuntimeDep, actor: SignedIn) -> Response:
    if actor.kind == ActorKind.PATIENT:
        return RedirectResponse("/portal", status_code=303)  # a patient's home is the portal
    return pages(request).render(request, "web/home.html", {"database_kind": runtime.db.kind})


@router.get("/system-status", response_class=HTMLResponse)
async def system_status(
    request: Request, runtime: RuntimeDep, actor: AdminSettings
) -> HTMLResponse:
    """The readiness figures for people; htmx refreshes just the card."""
    report = await readiness(runtime)
    return pages(request).render(
        request, "web/system_status.html", {"report": report}, block="status_card"
    )


@public.get("/docs", response_class=HTMLResponse)
async def api_reference(request: Request) -> HTMLResponse:
    """Swagger UI from the npm package, started by a static script (no inline script).
    Swagger UI sets inline styles on elements, so this one page allows them."""
    response = pages(request).render(request, "web/api_reference.html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return response


@public.get("/favicon.ico")
async def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever a page links (and for answers that are not
    pages at all): the same icon as /static/favicon.svg, which the pages link."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
