"""Settings page of the test catalogue: the tests the order form offers, each with its
kind, code, default unit and reference ranges by sex and age band. The administrator
keeps it (ADMIN_SETTINGS, like the clinic's other lists); doctors pick from it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.clinical.kernel.order_flow import OrderKind
from clinicdesk.clinical.models import TestCatalogueItem
from clinicdesk.clinical.schemas.orders import CatalogueItemWrite
from clinicdesk.clinical.service import catalogue
from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused

router = APIRouter(include_in_schema=False)

AdminSettings = Annotated[Actor, Depends(require(Permission.ADMIN_SETTINGS))]

TESTS = "/admin/settings/tests"
FIELDS = ("name", "kind", "code", "default_unit", "reference_text", "notes")
BAND_FIELDS = ("sex", "age_from", "age_to", "low", "high", "critical_low", "critical_high")
BANDS = 4  # range rows on the form: adult female, adult male, child, everybody
LABELS = {
    "name": "Name",
    "kind": "Kind",
    "code": "Code",
    "default_unit": "Unit",
    "reference_text": "Range in words",
    "notes": "Notes",
    "ranges": "Reference ranges",
}


def _values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(form_text(form, FIELDS))
    values["is_active"] = form.get("is_active") == "true"
    bands = []
    for i in range(BANDS):
        band = {name: str(form.get(f"{name}_{i}") or "").strip() for name in BAND_FIELDS}
        if not any(band[name] for name in ("low", "high", "critical_low", "critical_high")):
            continue
        bands.append({k: v for k, v in band.items() if v})
    values["ranges"] = bands
    return values


def _band_rows(item: TestCatalogueItem | None, failed: Refused | None) -> list[dict[str, Any]]:
    """The range rows to show: what was typed on a refused form, else what is stored."""
    typed = failed.values.get("ranges") if failed is not None else None
    stored = list(typed) if isinstance(typed, list) else list(item.ranges) if item else []
    return [stored[i] if i < len(stored) else {} for i in range(BANDS)]


async def _page(
    request: Request,
    session: SessionDep,
    *,
    item: TestCatalogueItem | None = None,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tests = await catalogue.list_catalogue(session, active_only=False)
    return render(
        request,
        "clinical/settings_tests.html",
        {
            "tests": tests,
            "item": item,
            "bands": _band_rows(item, failed),
            "failed": failed,
            "kinds": OrderKind,
        },
        status_code=status_code,
    )


@router.get(TESTS, response_class=HTMLResponse)
async def tests_page(request: Request, actor: AdminSettings, session: SessionDep) -> HTMLResponse:
    return await _page(request, session)


@router.post(TESTS, response_class=HTMLResponse)
async def create_test(request: Request, actor: AdminSettings, session: SessionDep) -> Response:
    values = _values(await request.form())
    try:
        data = parse_form(CatalogueItemWrite, values, labels=LABELS)
        async with all_or_nothing(session):
            item = await catalogue.create_catalogue_item(session, actor=actor, data=data)
    except ClinicError as error:
        failed = Refused.of("test", error, values)
        return await _page(request, session, failed=failed, status_code=error.status_code)
    response = redirect(TESTS)
    flash(request, response, f"{item.name} added to the catalogue.")
    return response


@router.get(TESTS + "/{test_id}", response_class=HTMLResponse)
async def test_page(
    request: Request, test_id: uuid.UUID, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    item = await catalogue.get_catalogue_item(session, test_id)
    return await _page(request, session, item=item)


@router.post(TESTS + "/{test_id}", response_class=HTMLResponse)
async def update_test(
    request: Request,
    test_id: uuid.UUID,
    actor: AdminSettings,
    session: SessionDep,
    version: FormVersion,
) -> Response:
    item = await catalogue.get_catalogue_item(session, test_id)  # 404 before the form
    values = _values(await request.form())
    try:
        data = parse_form(CatalogueItemWrite, values, labels=LABELS)
        async with all_or_nothing(session):
            await catalogue.update_catalogue_item(
                session, actor=actor, item_id=item.id, data=data, expected_version=version
            )
    except NotFound:
        raise
    except ClinicError as error:
        await session.refresh(item)
        failed = Refused.of("test", error, values)
        return await _page(
            request, session, item=item, failed=failed, status_code=error.status_code
        )
    response = redirect(TESTS)
    flash(request, response, f"{data.name} saved.")
    return response
