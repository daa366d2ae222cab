"""The doctor's screen: their own queue at a location (with the walk-ins nobody has
taken yet below it), "call next" to a room, start, finish (then on to the chart), and
their own status."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.queue.access import QueueRead, QueueWrite
from clinicdesk.queue.schemas import CallNextRequest
from clinicdesk.queue.service import arrivals, flow
from clinicdesk.queue.service.board import ProviderQueue
from clinicdesk.queue.views.common import (
    STAFF_EVENTS,
    clock,
    live_settings,
    some_id,
    text,
    toast,
    wait_words,
    words,
)

router = APIRouter(include_in_schema=False)

PAGE = "queue/mine.html"


async def mine_context(
    session: SessionDep,
    actor: Actor,
    location_id: uuid.UUID | None,
    *,
    error: str | None = None,
) -> dict[str, Any]:
    mine = await arrivals.my_desk(session, actor=actor, location_id=location_id)
    desk = mine.desk
    own = next(
        (q for q in desk.board.queues if q.provider and q.provider.id == mine.provider.id),
        ProviderQueue(provider=mine.provider),
    )
    unassigned = next(q for q in desk.board.queues if q.provider is None)
    return {
        "mine": mine,
        "desk": desk,
        "board": desk.board,
        "own": own,
        "unassigned": unassigned,
        "clock": clock(desk.zone),
        "wait_words": wait_words,
        "can_write": actor.can(Permission.QUEUE_WRITE),
        "screen": "mine",
        "error": error,
        "live": live_settings("/api/v1/events", STAFF_EVENTS),
        **words(),
    }


async def refused(
    request: Request,
    session: SessionDep,
    actor: Actor,
    location_id: uuid.UUID | None,
    error: ClinicError,
) -> HTMLResponse:
    """The queue again with the reason a step was refused, under the error's status."""
    try:
        context = await mine_context(session, actor, location_id, error=error.detail)
    except ClinicError:
        raise error from None
    return render(request, PAGE, context, block="mine", status_code=error.status_code)


@router.get("/queue/mine", response_class=HTMLResponse)
async def my_queue(
    request: Request, session: SessionDep, actor: QueueRead, location_id: uuid.UUID | None = None
) -> HTMLResponse:
    """The signed-in provider's queue; htmx refreshes just the queue part."""
    try:
        context = await mine_context(session, actor, location_id)
    except ClinicError as error:  # not a provider, no location: say so, with a way on
        if error.status_code == 404:
            raise
        return render(
            request,
            "queue/empty.html",
            {"title": "My queue", "message": error.detail, "desk_link": True},
        )
    return render(request, PAGE, context, block="mine")


@router.post("/queue/call-next", response_class=HTMLResponse)
async def call_next(request: Request, session: SessionDep, actor: QueueWrite) -> Response:
    """The first patient of the provider's own queue (or the first unassigned walk-in)
    is called to the room given."""
    form = await request.form()
    location_id = None
    try:
        async with all_or_nothing(session):
            location_id = some_id(form, "location_id")
            data = parse_form(
                CallNextRequest,
                {"location_id": location_id, "room": text(form, "room", 40)},
                hint="Choose the location.",
            )
            visit = await flow.call_next(session, actor=actor, data=data)
    except ClinicError as error:
        if not is_htmx(request):
            raise
        return await refused(request, session, actor, location_id, error)
    message = f"{visit.token} called" + (f" to {visit.room}." if visit.room else ".")
    if not is_htmx(request):
        response = redirect(f"/queue/mine?location_id={visit.location_id}")
        flash(request, response, message)
        return response
    page = render(
        request, PAGE, await mine_context(session, actor, visit.location_id), block="mine"
    )
    toast(page, message, changed=False)
    return page
