"""Settings → Rooms: the rooms of each location, where the queue screens call patients
to. One room added or removed at a time, each against the version the page showed."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.identity.schemas import RoomWrite
from clinicdesk.identity.service import organizations, rooms

router = APIRouter(include_in_schema=False)

PAGE = "/admin/settings/rooms"


async def _page(
    request: Request,
    session: SessionDep,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    locations = await organizations.list_locations(session)
    return render(
        request,
        "identity/settings_rooms.html",
        {"locations": locations, "failed": failed},
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
async def rooms_page(request: Request, actor: AdminSettings, session: SessionDep) -> HTMLResponse:
    return await _page(request, session)


@router.post(PAGE + "/{location_id}", response_class=HTMLResponse)
async def add_room(
    request: Request,
    location_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    location = await organizations.get_location(session, location_id)  # 404 first
    values = form_text(await request.form(), ("name",))
    try:
        data = parse_form(RoomWrite, values, labels={"name": "room name"})
        async with all_or_nothing(session):
            await rooms.add_room(
                session, actor=actor, location_id=location.id, data=data, expected_version=version
            )
    except NotFound:
        raise
    except ClinicError as error:
        failed = Refused.of(str(location.id), error, values)
        return await _page(request, session, failed=failed, status_code=error.status_code)
    response = redirect(PAGE)
    flash(request, response, f"Room {data.name} added at {location.name}.")
    return response


@router.post(PAGE + "/{location_id}/remove", response_class=HTMLResponse)
async def remove_room(
    request: Request,
    location_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    location = await organizations.get_location(session, location_id)  # 404 first
    name = form_text(await request.form(), ("name",))["name"]
    response = redirect(PAGE)
    try:
        async with all_or_nothing(session):
            await rooms.remove_room(
                session, actor=actor, location_id=location.id, name=name, expected_version=version
            )
    except NotFound:
        raise
    except ClinicError as error:
        failed = Refused.of(str(location.id), error, {})
        return await _page(request, session, failed=failed, status_code=error.status_code)
    flash(request, response, f"Room {name} removed from {location.name}.")
    return response
