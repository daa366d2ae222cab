"""Settings pages of the appointment book: the providers' weekly hours and time off, and
the locations' holidays and closures. Thin pages over ``service.setup``: the rules (a
block ends after it starts, no overlapping blocks, a closure closes a location) and the
audit trail are the service's, the same the JSON API uses."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused
from clinicdesk.identity import public as identity
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.scheduling.models import HoursException, Provider
from clinicdesk.scheduling.schemas import HoursBlock, HoursExceptionWrite
from clinicdesk.scheduling.service import setup
from clinicdesk.scheduling.views.common import clinic_day

router = APIRouter(include_in_schema=False)

PROVIDERS = "/admin/settings/providers"
HOLIDAYS = "/admin/settings/holidays"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HINT = "Check the marked fields."
BLOCK_FIELDS = ("weekday", "location_id", "start_time", "end_time", "valid_from", "valid_until")
EXCEPTION_FIELDS = ("on_date", "kind", "location_id", "start_time", "end_time", "reason")
LABELS = {
    "start_time": "from",
    "end_time": "until",
    "on_date": "date",
    "location_id": "location",
    "valid_from": "valid from",
    "valid_until": "valid until",
}


def _provider_page(provider_id: uuid.UUID) -> str:
    return f"{PROVIDERS}/{provider_id}"


async def _location_names(session: SessionDep) -> dict[uuid.UUID, str]:
    return {loc.id: loc.name for loc in await identity.list_locations(session)}


# --- providers --------------------------------------------------------------------------


@router.get(PROVIDERS, response_class=HTMLResponse)
async def providers_page(
    request: Request, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    providers = await setup.list_providers(session, active_only=False)
    works_at = await setup.provider_locations(session, [p.id for p in providers])
    return render(
        request,
        "scheduling/settings_providers.html",
        {"providers": providers, "works_at": works_at, "names": await _location_names(session)},
    )


async def _one_provider(
    request: Request,
    session: SessionDep,
    provider: Provider,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    names = await _location_names(session)
    works_at = (await setup.provider_locations(session, [provider.id]))[provider.id]
    rows = await setup.weekly_hours(session, provider.id)
    week = [(name, [r for r in rows if r.weekday == day]) for day, name in enumerate(WEEKDAYS)]
    context: dict[str, Any] = {
        "provider": provider,
        "week": week,
        "time_off": await setup.list_exceptions(session, provider_id=provider.id),
        "names": names,
        "locations": [(i, names[i]) for i in works_at if i in names],
        "weekdays": list(enumerate(WEEKDAYS)),
        "failed": failed,
    }
    return render(request, "scheduling/settings_provider.html", context, status_code=status_code)


@router.get(PROVIDERS + "/{provider_id}", response_class=HTMLResponse)
async def provider_page(
    request: Request, provider_id: uuid.UUID, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    return await _one_provider(request, session, await setup.get_provider(session, provider_id))


async def _refused_on_provider(
    request: Request,
    session: SessionDep,
    provider: Provider,
    form: str,
    error: ClinicError,
    values: Mapping[str, object],
) -> HTMLResponse:
    if isinstance(error, NotFound):
        raise error
    # The failed savepoint expired what it had loaded; read the provider again.
    await session.refresh(provider)
    return await _one_provider(
        request,
        session,
        provider,
        failed=Refused.of(form, error, values),
        status_code=error.status_code,
    )


@router.post(PROVIDERS + "/{provider_id}/hours", response_class=HTMLResponse)
async def add_hours(
    request: Request,
    provider_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    """Add one block to the provider's regular week."""
    provider = await setup.get_provider(session, provider_id)  # 404 before the form
    values = form_text(await request.form(), BLOCK_FIELDS)
    try:
        block = parse_form(HoursBlock, values, labels=LABELS, hint=HINT)
        async with all_or_nothing(session):
            await setup.add_hours_block(
                session,
                actor=actor,
                provider_id=provider.id,
                block=block,
                expected_version=version,
            )
    except ClinicError as error:
        return await _refused_on_provider(request, session, provider, "hours", error, values)
    response = redirect(_provider_page(provider.id))
    flash(
        request,
        response,
        f"{WEEKDAYS[block.weekday]} {block.start_time:%H:%M}-{block.end_time:%H:%M} added.",
    )
    return response


@router.post(PROVIDERS + "/{provider_id}/hours/remove", response_class=HTMLResponse)
async def remove_hours(
    request: Request,
    provider_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    """Remove one block of the provider's regular week."""
    provider = await setup.get_provider(session, provider_id)
    try:
        block_id = uuid.UUID(form_text(await request.form(), ("block_id",))["block_id"])
    except ValueError:
        block_id = uuid.UUID(int=0)  # not a block of this week: refused like one
    try:
        async with all_or_nothing(session):
            await setup.remove_hours_block(
                session,
                actor=actor,
                provider_id=provider.id,
                block_id=block_id,
                expected_version=version,
            )
    except ClinicError as error:
        return await _refused_on_provider(request, session, provider, "week", error, {})
    response = redirect(_provider_page(provider.id))
    flash(request, response, "Hours removed.")
    return response


@router.post(PROVIDERS + "/{provider_id}/time-off", response_class=HTMLResponse)
async def add_time_off(
    request: Request, provider_id: uuid.UUID, actor: AdminSettings, session: SessionDep
) -> Response:
    """Time off (a whole day or some hours) or extra hours of the provider on a date."""
    provider = await setup.get_provider(session, provider_id)
    values = form_text(await request.form(), EXCEPTION_FIELDS)
    try:
        data = parse_form(
            HoursExceptionWrite,
            {**values, "provider_id": str(provider.id)},
            labels=LABELS,
            hint=HINT,
        )
        async with all_or_nothing(session):
            row = await setup.add_exception(session, actor=actor, data=data)
    except ClinicError as error:
        return await _refused_on_provider(request, session, provider, "time-off", error, values)
    response = redirect(_provider_page(provider.id))
    what = "Extra hours" if row.kind == "extra" else "Time off"
    flash(request, response, f"{what} on {await clinic_day(session, row.on_date)} added.")
    return response


# --- holidays and closures ------------------------------------------------------------------


async def _holidays(
    request: Request,
    session: SessionDep,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    names = await _location_names(session)
    active = await identity.active_locations(session)
    return render(
        request,
        "scheduling/settings_holidays.html",
        {
            "closures": await setup.list_exceptions(session, provider_id=None),
            "names": names,
            "locations": [(loc.id, loc.name) for loc in active],
            "failed": failed,
        },
        status_code=status_code,
    )


@router.get(HOLIDAYS, response_class=HTMLResponse)
async def holidays_page(
    request: Request, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    return await _holidays(request, session)


@router.post(HOLIDAYS, response_class=HTMLResponse)
async def add_holiday(request: Request, actor: AdminSettings, session: SessionDep) -> Response:
    """A location closed for a day or some hours: nobody can be booked there then."""
    values = form_text(await request.form(), EXCEPTION_FIELDS)
    try:
        if not values["location_id"]:  # a closure closes a location, not a provider
            raise parse_form_refusal("location_id", "choose the location that closes")
        data = parse_form(HoursExceptionWrite, {**values, "kind": "off"}, labels=LABELS, hint=HINT)
        async with all_or_nothing(session):
            row = await setup.add_exception(session, actor=actor, data=data)
    except ClinicError as error:
        failed = Refused.of("holiday", error, values)
        return await _holidays(request, session, failed=failed, status_code=error.status_code)
    response = redirect(HOLIDAYS)
    flash(request, response, f"Closure on {await clinic_day(session, row.on_date)} added.")
    return response


def parse_form_refusal(name: str, message: str) -> ClinicError:
    """A refusal of one field, worded like ``parse_form``'s."""
    return FormInvalid({name: message}, HINT, first=f"{name}: {message}")


@router.post("/admin/settings/hours-exceptions/{exception_id}/remove", response_class=HTMLResponse)
async def remove_exception(
    request: Request,
    exception_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    """Take back a time off, extra hours or a closure; back to the page it was listed on."""
    row: HoursException = await setup.get_exception(session, exception_id)
    back = _provider_page(row.provider_id) if row.provider_id else HOLIDAYS
    response = redirect(back)
    try:
        async with all_or_nothing(session):
            await setup.remove_exception(
                session, actor=actor, exception_id=row.id, expected_version=version
            )
    except ClinicError as error:
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, f"{await clinic_day(session, row.on_date)} removed.")
    return response
