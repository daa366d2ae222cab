"""A patient's own view of their visit: the private page of their status link (no
sign-in; the link expires at the end of the day) and the "Your visit today" card of
the portal. Their token, place and estimated wait, in words; nobody else's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.pages import FragmentOf, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.identity.auth import PatientPortal
from clinicdesk.queue.errors import LinkNotFound
from clinicdesk.queue.schemas import PatientStatusRead
from clinicdesk.queue.service import links, reads
from clinicdesk.queue.views.common import PATIENT_EVENTS, live_settings, ordinal, wait_words
from clinicdesk.queue.vocabulary import VisitStatus

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)

Secret = Annotated[str, Path(max_length=100)]
PAGE = "queue/status.html"
PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def in_words(status: PatientStatusRead) -> dict[str, str]:
    """The headline and the line under it, as the patient reads them."""
    if status.status == VisitStatus.CALLED:
        where = f"Please go to {status.room} now" if status.room else "It is your turn now"
        return {
            "tone": "call",
            "headline": where,
            "detail": "Show your number if you are asked."
            if status.room
            else "Please go to the front desk.",
        }
    if status.status == VisitStatus.IN_CONSULTATION:
        return {"tone": "now", "headline": "You are with the doctor", "detail": ""}
    if status.status == VisitStatus.DONE:
        return {"tone": "done", "headline": "Your visit is finished", "detail": "Thank you."}
    if status.status == VisitStatus.LEFT:
        return {
            "tone": "done",
            "headline": "You are no longer in the queue",
            "detail": "If you are still here, please ask at the front desk.",
        }
    if status.position == 1:
        headline = "You are next"
    elif status.position:
        headline = f"You are {ordinal(status.position)} in line"
    else:
        headline = "You are in the queue"
    minutes = status.estimated_wait_minutes
    detail = f"Your estimated wait is {wait_words(minutes)}." if minutes is not None else ""
    return {
        "tone": "wait",
        "headline": headline,
        "detail": detail or "We will call your number.",
    }


def _context(status: PatientStatusRead, live: dict[str, str], refresh: str) -> dict[str, Any]:
    return {"status": status, "words": in_words(status), "live": live, "refresh": refresh}


def _gone(request: Request, error: LinkNotFound) -> HTMLResponse:
    page = render(
        request,
        "queue/link_gone.html",
        {"title": "This link has expired", "message": error.detail, "patient": True},
        status_code=404,
    )
    page.headers.update(PUBLIC_HEADERS)
    if is_htmx(request):
        page.headers["HX-Refresh"] = "true"
    return page


async def _by_link(
    request: Request, session: SessionDep, secret: str, block: str | None
) -> Response:
    try:
        access = await links.resolve_visit(session, secret)
        status = await reads.patient_status(session, access.visit_id)
    except LinkNotFound as error:
        return _gone(request, error)
    live = live_settings(f"/api/v1/events?visit={secret}", PATIENT_EVENTS)
    context = {**_context(status, live, f"/v/{secret}/status"), "text_me": f"/v/{secret}/text-me"}
    page = render(request, PAGE, context, block=block)
    page.headers.update(PUBLIC_HEADERS)
    return page


@public.get("/v/{secret}", response_class=HTMLResponse)
async def status_page(secret: Secret, request: Request, session: SessionDep) -> Response:
    """The patient's page: their number, their place, about how long; live."""
    return await _by_link(request, session, secret, None)


@public.post("/v/{secret}/text-me", response_class=HTMLResponse)
async def text_me_when_near(secret: Secret, request: Request, session: SessionDep) -> Response:
    """ "Text me when my turn is near": no form token is needed, the secret in the address
    is the credential (whoever has it can already see and do what this page offers)."""
    try:
        await links.ask_for_text_when_near(session, secret)
    except LinkNotFound as error:
        return _gone(request, error)
    response = redirect(f"/v/{secret}")
    response.headers.update(PUBLIC_HEADERS)
    return response


@public.get("/v/{secret}/status", response_class=HTMLResponse)
async def status_fragment(secret: Secret, request: Request, session: SessionDep) -> Response:
    return await _by_link(request, session, secret, "status")


@router.get("/portal/visit", response_class=HTMLResponse)
async def portal_visit(
    request: Request,
    session: SessionDep,
    actor: PatientPortal,
    fragment: Annotated[None, Depends(FragmentOf("/portal"))],
) -> Response:
    """The portal's "Your visit today" card (nothing when not checked in today)."""
    status = await reads.portal_visit(session, actor=actor)
    if status is None:
        return HTMLResponse("")
    live = live_settings("/api/v1/events", PATIENT_EVENTS)
    return render(
        request, "queue/_portal_visit.html", _context(status, live, "/portal/visit"), block="card"
    )
