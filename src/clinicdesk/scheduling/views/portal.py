"""The patient's own appointments in the portal: list, find a time, book, cancel.
The patient always comes from the signed-in actor, never from the form."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.dates import Day
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.flash import Category
from clinicdesk.core.forms import parse_form
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity
from clinicdesk.identity.auth import IdentityConfigDep, PatientPortal
from clinicdesk.scheduling.schemas import (
    AppointmentCancel,
    AwareDatetime,
    PortalBooking,
    SlotQuery,
)
from clinicdesk.scheduling.service import portal, portal_page, setup

router = APIRouter(include_in_schema=False)
PAGE = "/portal/appointments"


async def _page(
    request: Request, session: SessionDep, actor: PatientPortal, *, status_code: int = 200
) -> HTMLResponse:
    page = await portal_page.appointments_page(session, actor=actor)
    return render(
        request,
        "scheduling/portal_appointments.html",
        {
            "upcoming": page.upcoming,
            "past": page.past,
            "types": page.types,
            "bookable": page.bookable,
            "providers": page.providers,
            "locations": page.locations,
            "policy": page.policy,
            "changes": page.changes,
            "first_day": page.first_day,
            "zones": page.zones,
        },
        status_code=status_code,
    )


def _back(request: Request, message: str, category: Category) -> Response:
    response = redirect(PAGE)
    flash(request, response, message, category)
    return response


@router.get(PAGE, response_class=HTMLResponse)
async def appointments_page(
    request: Request, session: SessionDep, actor: PatientPortal
) -> HTMLResponse:
    return await _page(request, session, actor)


@router.get(f"{PAGE}/slots", response_class=HTMLResponse)
async def slot_choices(
    request: Request,
    session: SessionDep,
    actor: PatientPortal,
    fragment: Annotated[None, Depends(FragmentOf("/portal/appointments"))],
    type_id: uuid.UUID,
    location_id: uuid.UUID,
    start: Annotated[Day, Query()],
) -> HTMLResponse:
    """Free times for the chosen visit (an htmx fragment): the next two weeks from ``start``."""
    try:
        found = await portal.open_slots(
            session,
            actor=actor,
            # Parsed as a form is: a query the schema refuses is a message, not a 500.
            query=parse_form(
                SlotQuery,
                {
                    "type_id": type_id,
                    "location_id": location_id,
                    "start": start,
                    "end": start + timedelta(days=14),
                    "limit": 30,
                },
            ),
        )
        error = None
    except ClinicError as exc:
        found, error = [], exc.detail
    providers = {p.id: p for p in await setup.list_providers(session, active_only=False)}
    location = await identity.get_location(session, location_id)
    return render(
        request,
        "scheduling/portal_slots.html",
        {
            "tz": location.time_zone,
            "slots": found,
            "providers": providers,
            "type_id": type_id,
            "location_id": location_id,
            "error": error,
        },
    )


@router.post(PAGE, response_class=HTMLResponse)
async def book_own(
    request: Request,
    session: SessionDep,
    actor: PatientPortal,
    config: IdentityConfigDep,
    provider_id: Annotated[uuid.UUID, Form()],
    location_id: Annotated[uuid.UUID, Form()],
    type_id: Annotated[uuid.UUID, Form()],
    starts_at: Annotated[AwareDatetime, Form()],
) -> Response:
    data = PortalBooking(
        provider_id=provider_id, location_id=location_id, type_id=type_id, starts_at=starts_at
    )
    try:
        async with all_or_nothing(session):
            await portal.book_own(session, actor=actor, data=data, limiter=config.limiter)
    except ClinicError as error:
        if error.status_code == 404:
            raise  # not theirs, or gone: no page for it
        return _back(request, error.detail, "error")
    return _back(request, "Your appointment is booked.", "success")


@router.post(PAGE + "/{appointment_id}/cancel", response_class=HTMLResponse)
async def cancel_own(
    appointment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientPortal,
    config: IdentityConfigDep,
    reason: Annotated[str, Form(min_length=2, max_length=300)] = "Cancelled online",
) -> Response:
    try:
        async with all_or_nothing(session):
            await portal.cancel_own(
                session,
                actor=actor,
                appointment_id=appointment_id,
                # The API's schema, so the form refuses what the API refuses (control
                # characters) with a message.
                reason=parse_form(
                    AppointmentCancel,
                    {"reason": reason},
                    hint="Say in a few words why you cancel.",
                ).reason,
                limiter=config.limiter,
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise  # not theirs, or gone: no page for it
        return _back(request, error.detail, "error")
    return _back(request, "Your appointment is cancelled.", "success")
