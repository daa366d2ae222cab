"""The billing settings pages: the fee schedule (the items in force, a code's price
history, add an item, a new price from a day on, end an item) and the invoice and
credit-note number formats. Billing and reception read them; billing:write changes them,
through the same service functions as the JSON API."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.access import BillingRead, BillingWrite
from clinicdesk.billing.kernel.numbering import render as render_number
from clinicdesk.billing.schemas import (
    FeeItemCreate,
    FeeItemDeactivate,
    FeePriceVersion,
    NumberFormats,
)
from clinicdesk.billing.service import desk, fee_schedule, issuing
from clinicdesk.billing.service.common import books
from clinicdesk.billing.views.common import amount_in, money, rates_in, rates_text
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused, SettingsSection

router = APIRouter(include_in_schema=False)

FEES = "/admin/settings/fee-schedule"
NUMBERS = "/admin/settings/invoice-numbers"
SETTINGS = (
    SettingsSection(
        "Fee schedule",
        FEES,
        "The services and items the clinic bills, their prices, taxes and the dates "
        "they apply from.",
        Permission.BILLING_READ,
    ),
    SettingsSection(
        "Invoice numbers",
        NUMBERS,
        "How invoices and credit notes are numbered, such as INV-2026-000123.",
        Permission.BILLING_READ,
    ),
)
ITEM_FIELDS = (
    *("code", "billing_code", "name", "price", "tax_rates", "active_from"),
    "appointment_type_id",
)
LABELS = {
    "unit_price": "price",
    "tax_rates": "taxes",
    "active_from": "from",
    "active_to": "last day",
    "billing_code": "billing code",
    "appointment_type_id": "visit type",
}


async def _fees_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    *,
    on: date | None = None,
    code: str | None = None,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = await desk.fee_schedule_page(session, on=on, code=code)
    context: dict[str, Any] = {
        "page": page,
        "on": on,
        "code": code,
        "failed": failed,
        "money": money,
        "rates_text": rates_text,
        "can_write": actor.can(Permission.BILLING_WRITE),
    }
    return render(request, "billing/settings_fee_schedule.html", context, status_code=status_code)


@router.get(FEES, response_class=HTMLResponse)
async def fees_page(
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    on: date | None = None,
    code: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The items in force on ``on`` (today), or one code's price history."""
    return await _fees_page(request, session, actor, on=on, code=code or None)


@router.post(FEES, response_class=HTMLResponse)
async def add_fee_item(request: Request, session: SessionDep, actor: BillingWrite) -> Response:
    raw = form_text(await request.form(), ITEM_FIELDS)
    try:
        currency = (await books(session)).currency
        body = {
            "code": raw["code"],
            "billing_code": raw["billing_code"],
            "name": raw["name"],
            "unit_price": amount_in(raw["price"], currency, "unit_price"),
            "tax_rates": rates_in(raw["tax_rates"]),
            "active_from": raw["active_from"],
            "appointment_type_id": raw["appointment_type_id"],
        }
        data = parse_form(FeeItemCreate, body, labels=LABELS)
        async with all_or_nothing(session):
            item = await fee_schedule.create_fee_item(session, actor=actor, data=data)
    except ClinicError as error:
        refused = Refused.of("new-item", error, _with_price(raw))
        return await _fees_page(
            request, session, actor, failed=refused, status_code=error.status_code
        )
    response = redirect(FEES)
    flash(request, response, f"{item.name} ({item.code}) was added.")
    return response


def _with_price(raw: dict[str, str]) -> dict[str, str]:
    """What was typed, with the price under the field name the schema refuses it by."""
    return {**raw, "unit_price": raw.get("price", "")}


@router.post(FEES + "/{item_id}/price", response_class=HTMLResponse)
async def new_price(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """A new price from a day on; the current version ends the day before."""
    item = await fee_schedule.get_fee_item(session, item_id)  # 404 before the form
    raw = form_text(await request.form(), ("price", "tax_rates", "active_from"))
    try:
        currency = (await books(session)).currency
        body = {
            "unit_price": amount_in(raw["price"], currency, "unit_price"),
            "tax_rates": rates_in(raw["tax_rates"]) if raw["tax_rates"] else None,
            "active_from": raw["active_from"],
        }
        data = parse_form(FeePriceVersion, body, labels=LABELS)
        async with all_or_nothing(session):
            made = await fee_schedule.add_price_version(
                session, actor=actor, item_id=item.id, data=data, expected_version=version
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        refused = Refused.of(f"price-{item_id}", error, _with_price(raw))
        return await _fees_page(
            request, session, actor, failed=refused, status_code=error.status_code
        )
    response = redirect(FEES)
    flash(
        request,
        response,
        f"{made.name}: {money(made.unit_price, made.currency)} {made.currency} from "
        f"{made.active_from.isoformat()}.",
    )
    return response


@router.post(FEES + "/{item_id}/end", response_class=HTMLResponse)
async def end_fee_item(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """No longer offered after the last day given (today when empty)."""
    item = await fee_schedule.get_fee_item(session, item_id)
    raw = form_text(await request.form(), ("active_to",))
    try:
        data = parse_form(FeeItemDeactivate, raw, labels=LABELS)
        async with all_or_nothing(session):
            item = await fee_schedule.deactivate(
                session,
                actor=actor,
                item_id=item.id,
                active_to=data.active_to,
                expected_version=version,
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        refused = Refused.of(f"end-{item_id}", error, raw)
        return await _fees_page(
            request, session, actor, failed=refused, status_code=error.status_code
        )
    response = redirect(FEES)
    last = item.active_to.isoformat() if item.active_to else ""
    flash(request, response, f"{item.name} is offered until {last}.")
    return response


# --- number formats -----------------------------------------------------------------------


async def _numbers_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    formats = await issuing.read_number_formats(session)
    year = (await books(session)).today().year

    def sample(pattern: str) -> str:
        try:
            return render_number(pattern, year=year, seq=123)
        except (ValueError, IndexError, KeyError):
            return ""

    context = {
        "formats": formats,
        "sample": sample,
        "failed": failed,
        "can_write": actor.can(Permission.BILLING_WRITE),
    }
    return render(request, "billing/settings_numbers.html", context, status_code=status_code)


@router.get(NUMBERS, response_class=HTMLResponse)
async def numbers_page(request: Request, session: SessionDep, actor: BillingRead) -> HTMLResponse:
    return await _numbers_page(request, session, actor)


@router.post(NUMBERS, response_class=HTMLResponse)
async def change_numbers(
    request: Request, session: SessionDep, actor: BillingWrite, version: FormVersion
) -> Response:
    raw = form_text(await request.form(), ("invoice_number_format", "credit_note_number_format"))
    try:
        data = parse_form(NumberFormats, raw)
        async with all_or_nothing(session):
            await issuing.set_number_formats(
                session, actor=actor, data=data, expected_version=version
            )
    except ClinicError as error:
        refused = Refused.of("numbers", error, raw)
        return await _numbers_page(
            request, session, actor, failed=refused, status_code=error.status_code
        )
    response = redirect(NUMBERS)
    flash(request, response, "The number formats were saved; the next numbers use them.")
    return response
