"""Waiting-room displays: the administrator's list (create, renew the link, revoke,
delete) and the screen itself, opened by its link on a TV's browser without signing in.

The screen shows tokens and rooms only (initials too when the display is set so), in
type large enough to read across a room. A revoked or unknown link gets a plain page
saying so (404); an open screen whose link stops working finds out at its next refresh
or when the event stream ends, and reloads into that page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import all_or_nothing, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.identity import public as identity
from clinicdesk.queue.access import QueueDisplays
from clinicdesk.queue.errors import LinkNotFound
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import DisplayWrite
from clinicdesk.queue.service import board as boards
from clinicdesk.queue.service import links, reads
from clinicdesk.queue.service.board import Board, Line
from clinicdesk.queue.views.common import (
    DISPLAY_EVENTS,
    initials,
    live_settings,
    site_link,
    some_id,
    text,
)
from clinicdesk.queue.vocabulary import VisitStatus
from clinicdesk.scheduling.public import location_zone

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)

Secret = Annotated[str, Path(max_length=100)]
ADMIN_PAGE = "queue/displays.html"
SCREEN = "queue/display.html"
RECENT_CALLS = 5
NEXT_SHOWN = 8
# Public pages: never cached, never indexed.
PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


# --- the administrator's list --------------------------------------------------------------


async def _admin_page(
    request: Request,
    session: SessionDep,
    *,
    link: str | None = None,
    linked: uuid.UUID | None = None,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    displays = await links.list_displays(session)
    places = {loc.id: loc for loc in await identity.list_locations(session)}
    context = {
        "displays": displays,
        "places": places,
        "locations": await identity.active_locations(session),
        "link": link,
        "linked": linked,
        "message": message,
        "error": error,
    }
    return render(request, ADMIN_PAGE, context, block="displays", status_code=status_code)


@router.get("/queue/displays", response_class=HTMLResponse)
async def displays_page(
    request: Request, session: SessionDep, actor: QueueDisplays
) -> HTMLResponse:
    """The location's waiting-room screens and their links."""
    return await _admin_page(request, session)


@router.post("/queue/displays", response_class=HTMLResponse)
async def create_display(
    request: Request, session: SessionDep, actor: QueueDisplays
) -> HTMLResponse:
    """A new screen; its link is shown once, now."""
    form = await request.form()
    try:
        async with all_or_nothing(session):
            data = parse_form(
                DisplayWrite,
                {
                    "location_id": some_id(form, "location_id"),
                    "name": text(form, "name", 100),
                    "show_initials": form.get("show_initials") == "on",
                },
                hint="Give the display a name (e.g. 'Waiting room TV') and choose its location.",
            )
            display, secret = await links.create_display(session, actor=actor, data=data)
    except ClinicError as error:
        return await _admin_page(
            request, session, error=error.detail, status_code=error.status_code
        )
    return await _admin_page(
        request,
        session,
        link=site_link(request, f"/display/{secret}"),
        linked=display.id,
        message=f"Display “{display.name}” created.",
    )


@router.post("/queue/displays/{display_id}/renew", response_class=HTMLResponse)
async def renew_display(
    display_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueDisplays
) -> HTMLResponse:
    """A new link; the old one stops working (a screen showing it goes dark)."""
    display, secret = await links.renew_display(session, actor=actor, display_id=display_id)
    return await _admin_page(
        request,
        session,
        link=site_link(request, f"/display/{secret}"),
        linked=display.id,
        message=f"New link for “{display.name}”. The old link no longer works.",
    )


@router.post("/queue/displays/{display_id}/revoke", response_class=HTMLResponse)
async def revoke_display(
    display_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueDisplays
) -> HTMLResponse:
    display = await links.revoke_display(session, actor=actor, display_id=display_id)
    return await _admin_page(
        request,
        session,
        message=f"The link of “{display.name}” no longer works. Renew it to use the display again.",
    )


@router.post("/queue/displays/{display_id}/delete", response_class=HTMLResponse)
async def delete_display(
    display_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueDisplays
) -> HTMLResponse:
    await links.delete_display(session, actor=actor, display_id=display_id)
    return await _admin_page(request, session, message="Display deleted.")


# --- the screen ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    token: str
    room: str | None
    provider: str | None
    initials: str | None
    status: str


@dataclass(slots=True)
class NowServing:
    location: str
    latest: Call | None  # the newest call still being served
    calling: bool  # the newest call is still on their way: highlighted
    recent: list[Call] = field(default_factory=list)
    next: list[Call] = field(default_factory=list)
    call_key: str = ""  # changes with every call: the screen chimes


def now_serving(board: Board, visits: list[Visit], *, show_initials: bool) -> NowServing:
    """The newest call, the calls before it (done ones too: someone who missed their
    number looks there), and who comes next."""
    names = {p.id: p.display_name for p in (q.provider for q in board.queues) if p}
    lines: dict[uuid.UUID, Line] = {}
    for queue in board.queues:
        for line in [queue.current, *queue.called, *queue.waiting]:
            if line is not None:
                lines[line.visit.id] = line

    def call(visit: Visit) -> Call:
        line = lines.get(visit.id)
        return Call(
            token=visit.token,
            room=visit.room,
            provider=names.get(visit.provider_id) if visit.provider_id else None,
            initials=initials(line.name) if show_initials and line else None,
            status=visit.status,
        )

    called = sorted(
        (v for v in visits if v.called_at is not None and v.status != VisitStatus.LEFT),
        key=lambda v: v.called_at or v.arrived_at,
        reverse=True,
    )
    serving = {VisitStatus.CALLED, VisitStatus.IN_CONSULTATION}
    latest = next((v for v in called if v.status in serving), None)
    recent = [call(v) for v in called if v is not latest][:RECENT_CALLS]
    waiting = [
        (ln.estimate_minutes if ln.estimate_minutes is not None else 10_000, n, ln.visit)
        for queue in board.queues
        for n, ln in enumerate(queue.waiting)
    ]
    upcoming = [call(v) for _minutes, _n, v in sorted(waiting, key=lambda w: (w[0], w[1]))]
    newest = called[0] if called else None
    return NowServing(
        location=board.location.name,
        latest=call(latest) if latest else None,
        calling=latest is not None and latest.status == VisitStatus.CALLED,
        recent=recent,
        next=upcoming[:NEXT_SHOWN],
        call_key=f"{newest.token}@{newest.called_at.isoformat()}"
        if newest and newest.called_at
        else "",
    )


async def _screen_context(session: SessionDep, secret: str) -> dict[str, Any]:
    access = await links.resolve_display(session, secret)
    board = await boards.location_board(session, access.location_id)
    visits = await reads.visits_of_day(session, access.location_id, actor=None)
    zone = await location_zone(session, access.location_id)
    offset = board.now.astimezone(zone).utcoffset()
    return {
        "serving": now_serving(board, visits, show_initials=access.show_initials),
        "clock": board.now.astimezone(zone).strftime("%H:%M"),
        "offset_minutes": int(offset.total_seconds() // 60) if offset else 0,
        "secret": secret,
        "live": live_settings(f"/api/v1/events?display={secret}", DISPLAY_EVENTS),
    }


def _gone(request: Request, error: ClinicError) -> HTMLResponse:
    page = render(
        request,
        "queue/link_gone.html",
        {"title": "This display link is no longer valid", "message": error.detail},
        status_code=404,
    )
    page.headers.update(PUBLIC_HEADERS)
    if is_htmx(request):
        page.headers["HX-Refresh"] = "true"  # the open screen reloads into this page
    return page


@public.get("/display/{secret}", response_class=HTMLResponse)
async def display_screen(secret: Secret, request: Request, session: SessionDep) -> Response:
    """The waiting-room screen: now serving, recent calls, next tokens, the time."""
    try:
        context = await _screen_context(session, secret)
    except LinkNotFound as error:
        return _gone(request, error)
    page = render(request, SCREEN, context)
    page.headers.update(PUBLIC_HEADERS)
    return page


@public.get("/display/{secret}/board", response_class=HTMLResponse)
async def display_board(secret: Secret, request: Request, session: SessionDep) -> Response:
    """What the screen refreshes on every queue event (and every 30 s without them)."""
    try:
        context = await _screen_context(session, secret)
    except LinkNotFound as error:
        return _gone(request, error)
    page = render(request, SCREEN, context, block="board")
    page.headers.update(PUBLIC_HEADERS)
    return page
