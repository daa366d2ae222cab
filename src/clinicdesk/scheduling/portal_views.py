"""The patient's own appointments in the portal: list, find a time, book, cancel.
The patient always comes from the signed-in actor, never from the form."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.dates import Day
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.flash import Category
from clinicdesk.core.forms import parse_form
from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import FragmentOf, all_or_nothing, flash, redirect, render
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import IdentityConfigDep, PatientPortal
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.schemas import (
    AppointmentCancel,
    AwareDatetime,
    PortalBooking,
    SlotQuery,
)
from clinicdesk.scheduling.service import portal, setup

router = APIRouter(include_in_schema=False)
PAGE = "/portal/appointments"


async def _page(
    request: Request, session: SessionDep, actor: PatientPortal, *, status_code: int = 200
) -> HTMLResponse:
    appointments = await portal.own_appointments(session, actor=actor)
    now = utcnow()
    types = {t.id: t for t in await setup.list_types(session, active_only=False)}
    providers = {p.id: p for p in await setup.list_providers(session, active_only=False)}
    locations = await organizations.list_locations(session)
    policy = await portal.get_policy(session)
    return render(
        request,
        "scheduling/portal_appointments.html",
        {
            "upcoming": sorted(
                (a for a in appointments if a.starts_at >= now), key=lambda a: a.starts_at
            ),
            "past": [a for a in appointments if a.starts_at < now][:10],
            "types": types,
            "bookable": [t for t in types.values() if t.online_bookable and t.is_active],
            "providers": providers,
            "locations": [loc for loc in locations if loc.is_active],
            "policy": policy,
            "changeable_after": now + timedelta(hours=policy.cancel_window_hours),
            "first_day": (now + timedelta(hours=policy.min_notice_hours)).date(),
            # Times show in each location's zone (the organization's when it has none).
            "zones": {loc.id: loc.time_zone for loc in locations if loc.time_zone},
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
    location = await organizations.get_location(session, location_id)
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
