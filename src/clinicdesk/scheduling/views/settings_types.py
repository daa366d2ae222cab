"""Settings pages of the appointment book, continued: appointment types (name, length,
buffer, colour, online booking, active) and the rules for patients booking themselves
in the portal. Thin pages over ``service.setup`` and ``service.portal``."""

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
from clinicdesk.scheduling.models import AppointmentType
from clinicdesk.scheduling.schemas import AppointmentTypeWrite, BookingPolicyWrite
from clinicdesk.scheduling.service import portal, setup

router = APIRouter(include_in_schema=False)

TYPES = "/admin/settings/appointment-types"
RULES = "/admin/settings/booking-rules"
TYPE_FIELDS = ("name", "duration_minutes", "buffer_after_minutes", "color")
TYPE_CHECKS = ("online_bookable", "is_active")
RULE_FIELDS = ("min_notice_hours", "max_days_ahead", "cancel_window_hours", "max_open_bookings")
LABELS = {
    "duration_minutes": "length",
    "buffer_after_minutes": "buffer",
    "min_notice_hours": "minimum notice",
    "max_days_ahead": "how far ahead",
    "cancel_window_hours": "cancellation window",
    "max_open_bookings": "open bookings",
}


async def _type_values(request: Request) -> dict[str, object]:
    form = await request.form()
    values: dict[str, object] = dict(form_text(form, TYPE_FIELDS))
    for name in TYPE_CHECKS:
        values[name] = form.get(name) == "true"
    return values


# --- appointment types ------------------------------------------------------------------


async def _types(
    request: Request,
    session: SessionDep,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "scheduling/settings_types.html",
        {"types": await setup.list_types(session, active_only=False), "failed": failed},
        status_code=status_code,
    )


@router.get(TYPES, response_class=HTMLResponse)
async def types_page(request: Request, actor: AdminSettings, session: SessionDep) -> HTMLResponse:
    return await _types(request, session)


@router.post(TYPES, response_class=HTMLResponse)
async def create_type(request: Request, actor: AdminSettings, session: SessionDep) -> Response:
    values = await _type_values(request)
    try:
        data = parse_form(AppointmentTypeWrite, values, labels=LABELS)
        async with all_or_nothing(session):
            kind = await setup.create_type(session, actor=actor, data=data)
    except ClinicError as error:
        failed = Refused.of("new-type", error, values)
        return await _types(request, session, failed=failed, status_code=error.status_code)
    response = redirect(TYPES)
    flash(request, response, f"Appointment type {kind.name} added.")
    return response


async def _one_type(
    request: Request,
    kind: AppointmentType,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "scheduling/settings_type.html",
        {"kind": kind, "failed": failed},
        status_code=status_code,
    )


@router.get(TYPES + "/{type_id}", response_class=HTMLResponse)
async def type_page(
    request: Request, type_id: uuid.UUID, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    return await _one_type(request, await setup.get_type(session, type_id))


@router.post(TYPES + "/{type_id}", response_class=HTMLResponse)
async def update_type(
    request: Request,
    type_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    """Change the type; unticking "active" takes it off every booking form."""
    kind = await setup.get_type(session, type_id)  # 404 before the form
    values = await _type_values(request)
    try:
        data = parse_form(AppointmentTypeWrite, values, labels=LABELS)
        async with all_or_nothing(session):
            await setup.update_type(
                session, actor=actor, type_id=kind.id, data=data, expected_version=version
            )
    except NotFound:
        raise
    except ClinicError as error:
        await session.refresh(kind)
        failed = Refused.of("type", error, values)
        return await _one_type(request, kind, failed=failed, status_code=error.status_code)
    response = redirect(TYPES)
    flash(request, response, f"Appointment type {data.name} saved.")
    return response


# --- booking rules ----------------------------------------------------------------------


@router.get(RULES, response_class=HTMLResponse)
async def rules_page(request: Request, actor: AdminSettings, session: SessionDep) -> HTMLResponse:
    policy = await portal.get_policy(session)
    return render(request, "scheduling/settings_rules.html", {"policy": policy, "failed": None})


@router.post(RULES, response_class=HTMLResponse)
async def save_rules(
    request: Request, actor: AdminSettings, session: SessionDep, version: FormVersion
) -> Response:
    values = form_text(await request.form(), RULE_FIELDS)
    try:
        data = parse_form(BookingPolicyWrite, values, labels=LABELS)
        async with all_or_nothing(session):
            await portal.update_policy(session, actor=actor, data=data, expected_version=version)
    except ClinicError as error:
        policy = await portal.get_policy(session)
        return render(
            request,
            "scheduling/settings_rules.html",
            {"policy": policy, "failed": Refused.of("rules", error, values)},
            status_code=error.status_code,
        )
    response = redirect(RULES)
    flash(request, response, "Booking rules saved.")
    return response
