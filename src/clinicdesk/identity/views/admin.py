"""Administration pages: staff accounts, organization settings and locations, and the
audit report page (here, not in the audit domain, because it shows people's names,
which identity owns; the report's API is ``audit/api.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Annotated, get_args
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from clinicdesk.audit import public as audit
from clinicdesk.audit.schemas import AuditPageQuery, AuditQuery, SortField, filters_of
from clinicdesk.audit.web import AuditRead, csv_attachment, known_parameters
from clinicdesk.core.actor import ActorKind
from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.forms import FormInvalid, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import schemas
from clinicdesk.identity.auth import AdminSettings, AdminUsers, IdentityConfigDep
from clinicdesk.identity.permissions import ROLE_PERMISSIONS, Role
from clinicdesk.identity.service import organizations, users
from clinicdesk.identity.service.common import get_user

router = APIRouter(include_in_schema=False)

ROLES = list(Role)
PAGE_SIZE = 50


def _roles(values: list[str]) -> list[Role]:
    return [Role(v) for v in values if v in Role.__members__.values()]


# --- users ------------------------------------------------------------------------------


async def _users_page(
    request: Request,
    session: SessionDep,
    *,
    cursor: str | None,
    error: str | None = None,
    form: Mapping[str, object] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows, next_cursor = await users.list_users(session, cursor=cursor, limit=PAGE_SIZE)
    return render(
        request,
        "identity/admin_users.html",
        {
            "users": rows,
            "next_cursor": next_cursor,
            "roles": ROLES,
            "error": error,
            "form": form or {},
            "role_permissions": ROLE_PERMISSIONS,
        },
        status_code=status_code,
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(
    request: Request, actor: AdminUsers, session: SessionDep, cursor: str | None = None
) -> HTMLResponse:
    return await _users_page(request, session, cursor=cursor)


@router.post("/admin/users", response_class=HTMLResponse)
async def invite(
    request: Request,
    actor: AdminUsers,
    session: SessionDep,
    config: IdentityConfigDep,
    email: Annotated[str, Form(max_length=254)],
    full_name: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    roles = roles or []
    form = {"email": email, "full_name": full_name, "roles": roles}
    try:
        data = parse_form(schemas.UserInvite, {**form, "roles": _roles(roles)})
    except FormInvalid as error:
        return await _users_page(
            request, session, cursor=None, error=error.detail, form=form, status_code=400
        )
    try:
        async with all_or_nothing(session):
            user = await users.invite_user(
                session,
                actor=actor,
                email=data.email,
                full_name=data.full_name,
                roles=data.roles,
                config=config,
            )
    except ClinicError as error:
        return await _users_page(
            request,
            session,
            cursor=None,
            error=error.detail,
            form=form,
            status_code=error.status_code,
        )
    response = redirect(f"/admin/users/{user.id}")
    flash(request, response, f"Invitation sent to {user.email}.")
    return response


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def user_page(
    request: Request, user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> HTMLResponse:
    user = await get_user(session, user_id)
    return render(
        request, "identity/admin_user.html", {"user": user, "roles": ROLES, "error": None}
    )


async def _user_action(
    request: Request, session: SessionDep, user_id: uuid.UUID, action: Awaitable[object], done: str
) -> RedirectResponse:
    response = redirect(f"/admin/users/{user_id}")
    try:
        async with all_or_nothing(session):
            await action
    except NotFound:
        raise  # another organization's user, or none: the 404 page, not a message
    except ClinicError as error:
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, done)
    return response


@router.post("/admin/users/{user_id}/roles")
async def set_roles(
    request: Request,
    user_id: uuid.UUID,
    actor: AdminUsers,
    session: SessionDep,
    version: FormVersion,
    roles: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    chosen = _roles(roles or [])
    if not chosen:
        response = redirect(f"/admin/users/{user_id}")
        flash(request, response, "Choose at least one role (or deactivate the account).", "error")
        return response
    return await _user_action(
        request,
        session,
        user_id,
        users.change_roles(
            session, actor=actor, user_id=user_id, roles=chosen, expected_version=version
        ),
        "Roles saved. If a role was removed, the person was signed out everywhere.",
    )


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(
    request: Request, user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> RedirectResponse:
    return await _user_action(
        request,
        session,
        user_id,
        users.set_active(session, actor=actor, user_id=user_id, active=False),
        "Account deactivated; its sessions and tokens no longer work.",
    )


@router.post("/admin/users/{user_id}/reactivate")
async def reactivate(
    request: Request, user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> RedirectResponse:
    return await _user_action(
        request,
        session,
        user_id,
        users.set_active(session, actor=actor, user_id=user_id, active=True),
        "Account reactivated.",
    )


@router.post("/admin/users/{user_id}/reset-mfa")
async def reset_mfa(
    request: Request, user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> RedirectResponse:
    return await _user_action(
        request,
        session,
        user_id,
        users.reset_mfa(session, actor=actor, user_id=user_id),
        "Two-factor authentication reset; they set it up again at their next sign-in.",
    )


# --- organization and locations ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedForm:
    """A settings form that was refused: which one ("organization", "new-location" or a
    location's id), what was wrong with each field, and what the admin typed, so the
    page shows each message next to its field and keeps the typing."""

    form: str
    errors: Mapping[str, str]
    values: Mapping[str, object]


async def _organization_page(
    request: Request,
    session: SessionDep,
    *,
    error: str | None = None,
    failed: FailedForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    organization = await organizations.get_organization(session)
    locations = await organizations.list_locations(session)
    return render(
        request,
        "identity/admin_organization.html",
        {
            "organization": organization,
            "locations": locations,
            "error": error,
            "failed": failed,
            "date_formats": [f.value for f in schemas.DateFormat],
        },
        status_code=status_code,
    )


async def _refused(
    request: Request,
    session: SessionDep,
    form: str,
    error: FormInvalid,
    values: Mapping[str, object],
) -> HTMLResponse:
    message = (
        "Please correct the marked field."
        if len(error.fields) == 1
        else ("Please correct the marked fields.")
    )
    failed = FailedForm(form=form, errors=error.fields, values=values)
    return await _organization_page(request, session, error=message, failed=failed, status_code=400)


@router.get("/admin/organization", response_class=HTMLResponse)
async def organization_page(
    request: Request, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    return await _organization_page(request, session)


@router.post("/admin/organization", response_class=HTMLResponse)
async def save_organization(
    request: Request,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
    name: Annotated[str, Form(max_length=200)],
    time_zone: Annotated[str, Form(max_length=64)],
    locale: Annotated[str, Form(max_length=16)],
    currency: Annotated[str, Form(max_length=3)],
    country: Annotated[str, Form(max_length=2)],
    date_format: Annotated[str, Form(max_length=10)],
    mfa_required_for_admins: Annotated[bool, Form()] = False,
    mfa_required_for_staff: Annotated[bool, Form()] = False,
) -> Response:
    values: dict[str, object] = {
        "name": name,
        "time_zone": time_zone,
        "locale": locale,
        "currency": currency,
        "country": country,
        "date_format": date_format,
        "mfa_required_for_admins": mfa_required_for_admins,
        "mfa_required_for_staff": mfa_required_for_staff,
    }
    try:
        update = parse_form(schemas.OrganizationUpdate, values)
        async with all_or_nothing(session):
            await organizations.update_organization(
                session, actor=actor, update=update, expected_version=version
            )
    except FormInvalid as error:
        return await _refused(request, session, "organization", error, values)
    except ClinicError as error:
        return await _organization_page(
            request, session, error=error.detail, status_code=error.status_code
        )
    response = redirect("/admin/organization")
    flash(request, response, "Settings saved.")
    return response


def _location(
    name: str, address: str, phone: str, rooms: str, time_zone: str
) -> schemas.LocationWrite:
    room_list = [r.strip() for r in rooms.replace("\n", ",").split(",") if r.strip()]
    return parse_form(
        schemas.LocationWrite,
        {
            "name": name,
            "address": address,
            "phone": phone,
            "rooms": room_list,
            "time_zone": time_zone,
        },
    )


@router.post("/admin/locations", response_class=HTMLResponse)
async def add_location(
    request: Request,
    actor: AdminSettings,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    address: Annotated[str, Form(max_length=2000)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    rooms: Annotated[str, Form(max_length=4000)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    typed = {"name": name, "address": address, "phone": phone, "rooms": rooms}
    try:
        data = _location(name, address, phone, rooms, time_zone)
    except FormInvalid as error:
        return await _refused(
            request, session, "new-location", error, typed | {"time_zone": time_zone}
        )
    await organizations.create_location(session, actor=actor, data=data)
    response = redirect("/admin/organization")
    flash(request, response, f"Location {data.name} added.")
    return response


@router.post("/admin/locations/{location_id}", response_class=HTMLResponse)
async def save_location(
    request: Request,
    location_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
    name: Annotated[str, Form(max_length=200)],
    address: Annotated[str, Form(max_length=2000)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    rooms: Annotated[str, Form(max_length=4000)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    typed = {"name": name, "address": address, "phone": phone, "rooms": rooms}
    try:
        data = _location(name, address, phone, rooms, time_zone)
        async with all_or_nothing(session):
            await organizations.update_location(
                session, actor=actor, location_id=location_id, data=data, expected_version=version
            )
    except FormInvalid as error:
        values = typed | {"time_zone": time_zone}
        return await _refused(request, session, str(location_id), error, values)
    except ClinicError as error:
        return await _organization_page(
            request, session, error=error.detail, status_code=error.status_code
        )
    response = redirect("/admin/organization")
    flash(request, response, f"Location {data.name} saved.")
    return response


# --- audit report -----------------------------------------------------------------------


def _subjects_of(page: audit.AuditPage) -> set[tuple[str, uuid.UUID]]:
    """What the page's entries are about: their record and their patient."""
    wanted: set[tuple[str, uuid.UUID]] = set()
    for e in page.items:
        resource_id = audit.as_uuid(e.resource_id) if e.resource_id else None
        if e.resource_type and resource_id is not None:
            wanted.add((e.resource_type, resource_id))
        if e.patient_id:
            wanted.add(("patient", e.patient_id))
    return wanted


@router.get(
    "/admin/audit",
    response_class=HTMLResponse,
    dependencies=[Depends(known_parameters(AuditPageQuery))],
)
async def audit_report(
    request: Request,
    actor: AuditRead,
    session: SessionDep,
    asked: Annotated[AuditPageQuery, Query()],
) -> HTMLResponse:
    organization = await organizations.get_organization(session)
    query = filters_of(asked).in_zone(ZoneInfo(organization.time_zone))
    page = await audit.list_events(
        session, actor=actor, query=query, cursor=asked.cursor, limit=PAGE_SIZE
    )
    params = {k: v for k, v in query.model_dump(mode="json").items() if v is not None}
    names = await users.names_of(session, {e.actor_user_id for e in page.items if e.actor_user_id})
    named = await audit.name_subjects(session, actor=actor, wanted=_subjects_of(page))
    subjects = {(kind, str(ident)): subject for (kind, ident), subject in named.items()}
    return render(
        request,
        "identity/admin_audit.html",
        {
            "page": page,
            "query": query,
            "params": params,
            "names": names,
            "subjects": subjects,
            "sort_fields": get_args(SortField),
            "actor_kinds": [kind.value for kind in ActorKind],
            "outcomes": [outcome.value for outcome in audit.Outcome],
        },
        block="results",
    )


@router.get("/admin/audit/export.csv", dependencies=[Depends(known_parameters(AuditQuery))])
async def audit_export(
    actor: AuditRead, session: SessionDep, query: Annotated[AuditQuery, Query()]
) -> StreamingResponse:
    return await csv_attachment(audit.export_csv(session, actor=actor, query=query))
