"""The front-desk screen: every provider's queue at a location, who is expected and not
here yet, and checking patients in (booked with one click, or as walk-ins).

Its live parts (the board, the expected arrivals) are refreshed by ``live.js`` from
their own fragment routes; a check-in answers with the patient's token and the QR code
of their status link, for the patient to scan.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.patients.public import patients_by_id
from clinicdesk.queue.access import QueueRead, QueueWrite
from clinicdesk.queue.schemas import AppointmentCheckIn, WalkInCheckIn
from clinicdesk.queue.service import arrivals, checkin, reads
from clinicdesk.queue.views.common import (
    STAFF_EVENTS,
    clock,
    live_settings,
    ordinal,
    qr_image,
    site_link,
    some_id,
    text,
    wait_words,
    words,
)
from clinicdesk.scheduling import public as scheduling

router = APIRouter(include_in_schema=False)

PAGE = "queue/desk.html"


async def desk_context(
    session: SessionDep,
    actor: Actor,
    location_id: uuid.UUID | None,
    *,
    arrivals_too: bool = True,
    error: str | None = None,
) -> dict[str, Any]:
    desk = await arrivals.front_desk(
        session, actor=actor, location_id=location_id, arrivals=arrivals_too
    )
    return {
        "desk": desk,
        "board": desk.board,
        "expected": desk.expected,
        "clock": clock(desk.zone),
        "wait_words": wait_words,
        "can_write": actor.can(Permission.QUEUE_WRITE),
        "screen": "desk",
        "error": error,
        "live": live_settings("/api/v1/events", STAFF_EVENTS),
        **words(),
    }


def no_location(request: Request, message: str) -> HTMLResponse:
    return render(request, "queue/empty.html", {"message": message, "title": "Queue"})


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(
    request: Request, session: SessionDep, actor: QueueRead, location_id: uuid.UUID | None = None
) -> HTMLResponse:
    """The front desk: the location's queues, the expected arrivals, check-in."""
    try:
        context = await desk_context(
            session, actor, location_id, arrivals_too=actor.can(Permission.QUEUE_WRITE)
        )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        return no_location(request, error.detail)
    return render(request, PAGE, context)


@router.get("/queue/board", response_class=HTMLResponse)
async def board_fragment(
    request: Request,
    session: SessionDep,
    actor: QueueRead,
    fragment: Annotated[None, Depends(FragmentOf("/queue"))],
    location_id: uuid.UUID,
) -> HTMLResponse:
    """The queues only (what the page refreshes on every queue event)."""
    context = await desk_context(session, actor, location_id, arrivals_too=False)
    return render(request, PAGE, context, block="board")


@router.get("/queue/arrivals", response_class=HTMLResponse)
async def arrivals_fragment(
    request: Request,
    session: SessionDep,
    actor: QueueRead,
    fragment: Annotated[None, Depends(FragmentOf("/queue"))],
    location_id: uuid.UUID,
) -> HTMLResponse:
    """Who is booked today and not checked in yet."""
    expected = await arrivals.expected_today(session, actor=actor, location_id=location_id)
    context = {"expected": expected, "clock": clock(expected.zone)}
    return render(request, PAGE, context, block="arrivals")


# --- checking in --------------------------------------------------------------------------


async def _checked_in(
    request: Request,
    session: SessionDep,
    visit_id: uuid.UUID,
    secret: str,
    *,
    heading: str = "Checked in",
) -> Response:
    """The answer to a check-in: the token, where the patient waits, the status link."""
    link = site_link(request, f"/v/{secret}")
    visit = await reads.read_visit(session, visit_id, link, actor=None)  # a check-in
    patient = (await patients_by_id(session, {visit.patient_id})).get(visit.patient_id)
    if not is_htmx(request):
        response = redirect(f"/queue?location_id={visit.location_id}")
        flash(request, response, f"Checked in as {visit.token}.")
        return response
    context = {
        "visit": visit,
        "name": patient.display_name if patient else None,
        "heading": heading,
        "link": link,
        "qr": qr_image(link),
        "wait_words": wait_words,
        "ordinal": ordinal,
    }
    page = render(request, "queue/checked_in.html", context, block="result")
    # The token is on screen in a live region: no toast, just refresh the rest.
    page.headers["HX-Trigger"] = "live:changed"
    return page


def _refused(request: Request, error: ClinicError) -> HTMLResponse:
    """The reason, in place; a check-in refused as too early offers the confirmation."""
    if not is_htmx(request):
        raise error
    early = isinstance(error, scheduling.CheckInTooEarly)
    return render(
        request,
        "queue/checked_in.html",
        {
            "refused": error.detail,
            "early_id": error.extensions.get("appointment_id") if early else None,
        },
        block="result",
        status_code=error.status_code,
    )


@router.post("/queue/check-ins", response_class=HTMLResponse)
async def check_in(request: Request, session: SessionDep, actor: QueueWrite) -> Response:
    """A booked patient arrived (one click on the expected list)."""
    form = await request.form()
    try:
        async with all_or_nothing(session):
            data = parse_form(
                AppointmentCheckIn,
                {
                    "appointment_id": some_id(form, "appointment_id"),
                    "priority": text(form, "priority", 2),
                    "priority_reason": text(form, "priority_reason", 200),
                    "early": text(form, "early", 1) == "1",
                },
                hint="Choose the appointment to check in.",
            )
            visit, secret = await checkin.check_in_appointment(session, actor=actor, data=data)
    except ClinicError as error:
        return _refused(request, error)
    return await _checked_in(request, session, visit.id, secret)


@router.post("/queue/walk-ins", response_class=HTMLResponse)
async def walk_in(request: Request, session: SessionDep, actor: QueueWrite) -> Response:
    """A patient without an appointment; without a provider they wait for the first
    provider who is free."""
    form = await request.form()
    try:
        async with all_or_nothing(session):
            patient_id = some_id(form, "patient_id")
            if patient_id is None:
                raise InvalidField(
                    "patient_id", "Choose the patient: search by name, phone or date of birth."
                )
            data = parse_form(
                WalkInCheckIn,
                {
                    "patient_id": patient_id,
                    "location_id": some_id(form, "location_id"),
                    "provider_id": some_id(form, "provider_id"),
                    "type_id": some_id(form, "type_id"),
                    "priority": text(form, "priority", 2),
                    "priority_reason": text(form, "priority_reason", 200),
                    "note": text(form, "note", 300),
                },
                hint="Check the walk-in's details.",
            )
            visit, secret = await checkin.check_in_walk_in(session, actor=actor, data=data)
    except ClinicError as error:
        return _refused(request, error)
    return await _checked_in(request, session, visit.id, secret, heading="Walk-in checked in")


@router.post("/queue/visits/{visit_id}/status-link", response_class=HTMLResponse)
async def renew_status_link(
    visit_id: uuid.UUID, request: Request, session: SessionDep, actor: QueueWrite
) -> Response:
    """A new status link for a patient who lost theirs (the old one stops working)."""
    try:
        async with all_or_nothing(session):
            visit, secret = await checkin.renew_status_link(session, actor=actor, visit_id=visit_id)
    except ClinicError as error:
        return _refused(request, error)
    return await _checked_in(request, session, visit.id, secret, heading="New status link")
