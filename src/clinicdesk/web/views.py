"""The web shell: home page, system status and the API reference.

Routes stay thin: they call the same services as the JSON API and render a template.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from clinicdesk.core.actor import ActorKind
from clinicdesk.core.errors import NotFound
from clinicdesk.core.health import readiness
from clinicdesk.core.pages import FragmentOf, pages
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import RuntimeDep, SessionDep
from clinicdesk.core.templating import NavItem
from clinicdesk.identity.auth import AdminSettings, SignedIn
from clinicdesk.web import home as cards

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/"),
    NavItem("Patients", "/patients", Permission.PATIENTS_READ),
    NavItem("Calendar", "/calendar", Permission.SCHEDULING_READ),
    NavItem("Queue", "/queue", Permission.SCHEDULING_READ),
    NavItem("Invoices", "/invoices", Permission.BILLING_READ),
    NavItem("Balances", "/billing/aging", Permission.BILLING_READ),
    NavItem("Claims", "/billing/claims", Permission.BILLING_READ),
    NavItem("Staff", "/admin/users", Permission.ADMIN_USERS, group="Admin"),
    NavItem("Organization", "/admin/organization", Permission.ADMIN_SETTINGS, group="Admin"),
    NavItem("Settings", "/admin/settings", Permission.ADMIN_SETTINGS, group="Admin"),
    NavItem("Audit trail", "/admin/audit", Permission.AUDIT_READ, group="Admin"),
    NavItem("Emergency access", "/admin/emergency-access", Permission.AUDIT_READ, group="Admin"),
    NavItem("System status", "/system-status", Permission.ADMIN_SETTINGS, group="Admin"),
    NavItem("Jobs", "/admin/jobs", Permission.ADMIN_SETTINGS, group="Admin"),
    NavItem("Messages", "/admin/messages", Permission.NOTIFICATIONS_READ, group="Admin"),
)

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    actor: SignedIn,
    location_id: uuid.UUID | None = None,
) -> Response:
    """Today, for the signed-in person: the cards of their roles (``web/home.py``)."""
    if actor.kind == ActorKind.PATIENT:
        return RedirectResponse("/portal", status_code=303)  # a patient's home is the portal
    seat = cards.Seat(request, session, actor, runtime, location_id)
    shown = await cards.load_cards(seat, cards.cards_of(actor))
    context = {"cards": shown, "live_events": cards.live_events()}
    return pages(request).render(request, "web/home.html", context)


def _card_route(name: str) -> Callable[..., Awaitable[HTMLResponse]]:
    async def one_card(
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
        actor: SignedIn,
        fragment: Annotated[None, Depends(FragmentOf("/"))],
        location_id: uuid.UUID | None = None,
    ) -> HTMLResponse:
        """One card of the home page, for htmx to refresh it in place."""
        mine = [c for c in cards.cards_of(actor) if c.name == name]
        seat = cards.Seat(request, session, actor, runtime, location_id)
        shown = await cards.load_cards(seat, mine)
        if not shown:  # not one of this person's cards
            raise NotFound("This card is not on your home page.")
        one = shown[0]
        return pages(request).render(
            request, one.shown.template, {"card": one, "c": one.shown.context}, block="card"
        )

    return one_card


# One address per card (``/home/desk``): what a live card reloads itself from.
for _name in cards.CARDS:
    router.add_api_route(
        f"/home/{_name}", _card_route(_name), methods=["GET"], response_class=HTMLResponse
    )


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
