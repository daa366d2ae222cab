"""The calendar page, the appointments it shows (JSON for the browser calendar) and the
plain day list that does everything the calendar does without a mouse.

Both open at the location the address names; without one, at the location this browser
last chose (a cookie: no patient data, only a location id, checked against the active
locations), else where the user sees patients, else the busiest today
(``calendar.default_location``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.pages import render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.patients.public import patients_by_id
from clinicdesk.scheduling.access import SchedulingRead
from clinicdesk.scheduling.service import calendar
from clinicdesk.scheduling.views.common import (
    ACTIVE,
    STATUS_WORDS,
    calendar_events,
    day_range,
    from_wall_clock,
    open_book,
    parse_day,
    risk_note,
    wall_clock,
)
from clinicdesk.scheduling.vocabulary import HIGH_NO_SHOW_RISK, AppointmentStatus

router = APIRouter(include_in_schema=False)

LOCATION_COOKIE = "cd_calendar_location"
LOCATION_COOKIE_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days


async def _where(
    request: Request, session: SessionDep, actor: Actor, location_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The location to open: the one asked for, else ``calendar.default_location``."""
    if location_id is not None:
        return location_id
    try:
        remembered = uuid.UUID(request.cookies.get(LOCATION_COOKIE, ""))
    except ValueError:
        remembered = None
    active = await identity.active_locations(session)
    return await calendar.default_location(
        session, actor=actor, location_ids=[loc.id for loc in active], remembered=remembered
    )


def _remember(request: Request, response: Response, chosen: uuid.UUID | None) -> None:
    """Keep a location the user chose for the next calendar they open."""
    if chosen is not None and request.cookies.get(LOCATION_COOKIE) != str(chosen):
        response.set_cookie(
            LOCATION_COOKIE,
            str(chosen),
            max_age=LOCATION_COOKIE_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/calendar",
        )


VIEWS = {
    "day": ("Day — all providers", "resourceTimeGridDay"),
    "week": ("Week — one provider", "timeGridWeek"),
    "provider-day": ("Day — one provider", "timeGridDay"),
}


@router.get("/calendar", response_class=HTMLResponse)
async def calendar_page(
    request: Request,
    session: SessionDep,
    actor: SchedulingRead,
    location_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    view: Annotated[str, Query(max_length=20)] = "day",
    date: Annotated[str | None, Query(max_length=10)] = None,
    cancelled: bool = False,
) -> HTMLResponse:
    """Providers side by side for a day, or one provider's day or week. Cancelled
    appointments take no room unless asked for (``cancelled``)."""
    try:
        book = await open_book(session, await _where(request, session, actor, location_id))
    except InvalidField as error:
        return render(request, "scheduling/calendar.html", {"book": None, "error": error.detail})
    view = view if view in VIEWS else "day"
    day = parse_day(date, book.zone)
    chosen = next((p for p in book.providers if p.id == provider_id), None) or (
        book.providers[0] if book.providers else None
    )
    shown = book.providers if view == "day" else [chosen] if chosen else []
    config: dict[str, Any] = {
        "view": VIEWS[view][1],
        "date": day.isoformat(),
        "locationId": str(book.location.id),
        "providerId": str(chosen.id) if chosen else None,
        "resources": [{"id": str(p.id), "title": p.display_name} for p in shown],
        "slotMinTime": book.slot_min,
        "slotMaxTime": book.slot_max,
        "canWrite": actor.can(Permission.SCHEDULING_WRITE),
        "eventsUrl": f"/calendar/events?location_id={book.location.id}"
        + ("" if view == "day" or chosen is None else f"&provider_id={chosen.id}"),
        "showCancelled": cancelled,
    }
    page = render(
        request,
        "scheduling/calendar.html",
        {
            "book": book,
            "views": VIEWS,
            "view": view,
            "day": day,
            "provider": chosen,
            "config": config,
            "cancelled": cancelled,
            "error": None,
            "high_no_show_risk": HIGH_NO_SHOW_RISK,
        },
    )
    _remember(request, page, location_id)
    return page


@router.get("/calendar/events")
async def calendar_feed_json(
    session: SessionDep,
    actor: SchedulingRead,
    location_id: uuid.UUID,
    start: Annotated[str, Query(max_length=40)],
    end: Annotated[str, Query(max_length=40)],
    provider_id: uuid.UUID | None = None,
    cancelled: bool = False,
) -> JSONResponse:
    """The appointments and open hours between two wall-clock times of the location;
    cancelled appointments only when asked for."""
    book = await open_book(session, location_id)
    begin = from_wall_clock(start, book.zone, "start")
    finish = from_wall_clock(end, book.zone, "end")
    providers = [p for p in book.providers if provider_id is None or p.id == provider_id]
    found = await calendar.appointments_between(
        session,
        actor=actor,
        start=begin,
        end=finish,
        location_id=book.location.id,
        provider_id=provider_id,
    )
    if not cancelled:
        found = [a for a in found if a.status != AppointmentStatus.CANCELLED]
    events = await calendar_events(
        session,
        book=book,
        appointments=found,
        providers=providers,
        start=begin,
        end=finish,
        editable=actor.can(Permission.SCHEDULING_WRITE),
    )
    return JSONResponse(events)


@router.get("/calendar/list", response_class=HTMLResponse)
async def day_list(
    request: Request,
    session: SessionDep,
    actor: SchedulingRead,
    location_id: uuid.UUID | None = None,
    date: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The day's appointments at a location as a table; each opens the details page with
    the same actions as the calendar's dialog, and a check-in for today's."""
    try:
        book = await open_book(session, await _where(request, session, actor, location_id))
    except InvalidField as error:
        return render(request, "scheduling/calendar.html", {"book": None, "error": error.detail})
    day = parse_day(date, book.zone)
    start, end = day_range(day, book.zone)
    found = await calendar.appointments_between(
        session, actor=actor, start=start, end=end, location_id=book.location.id
    )
    patients = await patients_by_id(session, {a.patient_id for a in found})
    names = {p.id: p.display_name for p in book.providers}
    types = {t.id: t for t in book.types}
    today = datetime.now(book.zone).date()
    rows = [
        {
            "appointment": a,
            "can_check_in": day == today and a.status in ACTIVE,
            "time": wall_clock(a.starts_at, book.zone)[11:16],
            "until": wall_clock(a.ends_at, book.zone)[11:16],
            "patient": patients.get(a.patient_id),
            "provider": names.get(a.provider_id, "—"),
            "type": types.get(a.type_id),
            "status": STATUS_WORDS.get(a.status, a.status),
            "risk_note": risk_note(a),
        }
        for a in found
    ]
    page = render(
        request,
        "scheduling/list.html",
        {
            "book": book,
            "day": day,
            "rows": rows,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "can_check_in": actor.can(Permission.QUEUE_WRITE),
        },
    )
    _remember(request, page, location_id)
    return page
