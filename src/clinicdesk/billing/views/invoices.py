"""The invoice pages: the list (filters, pages, what is due), a new invoice by hand, the
invoice page (a draft edited line by line, then issued; an issued one read-only with its
credit notes and the credit-note form) and the visit's checkout panel.

Every change calls the same service function as the JSON API. A form posted by htmx gets
the changed part back in place (the invoice's body, or the checkout panel: the form's
``panel`` field says which) with the refusal in words; without htmx it is sent back to the
page with a one-time message.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.access import BillingRead, BillingRefund, BillingWrite
from clinicdesk.billing.schemas import (
    CreditLine,
    CreditNoteCreate,
    InvoiceCreate,
    InvoiceDiscount,
    InvoiceUpdate,
    LineAdd,
    LineChange,
)
from clinicdesk.billing.service import checkout, claim_desk, desk, invoices, issuing
from clinicdesk.billing.service.common import books
from clinicdesk.billing.views.common import (
    CREDIT_PERMISSION,
    amount_in,
    discount_fields,
    money,
    rates_in,
    refusal,
)
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.forms import form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.patients import public as patients

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
# The event an htmx answer raises when a change went through (``_change``): the chart's
# invoices section reloads its balance line on it (``_chart_invoices.html``).
MONEY_CHANGED = "billing:changed"
LIST = "billing/list.html"
INVOICE = "billing/invoice.html"
CHECKOUT = "billing/checkout.html"
HINT = "Check the quantity, the price and the discount (a number, and its reason)."
DISCOUNT = ("discount_kind", "discount_value", "discount_reason")
LABELS = {
    "quantity": "quantity",
    "unit_price": "price",
    "name": "description",
    "discount_percent": "discount",
    "discount_amount": "discount",
    "discount_reason": "reason for the discount",
    "reason": "reason",
    "notes": "notes",
}


def words(actor: Actor) -> dict[str, Any]:
    return {
        "money": money,
        "can_write": actor.can(Permission.BILLING_WRITE),
        "can_credit": actor.can(CREDIT_PERMISSION),
        "statuses": list(InvoiceStatus),
        "can_refund": actor.can(Permission.BILLING_REFUND),
        "form_key": checkout.new_form_key,
        "desk_methods": [(m.value, checkout.method_word(m)) for m in checkout.DESK_METHODS],
    }


# --- the list -----------------------------------------------------------------------------

# The list's filters come as text: a form's "Any" and an empty date field send "".
ListText = Annotated[str, Query(max_length=40)]


class InvoiceListFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: InvoiceStatus | None = None
    patient_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


@router.get("/invoices", response_class=HTMLResponse)
async def invoice_list(
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    status: ListText = "",
    q: Annotated[str, Query(max_length=100)] = "",
    patient_id: ListText = "",
    date_from: ListText = "",
    date_to: ListText = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Newest first; ``q`` finds the patient (one match filters by them, several are
    offered to pick from). The filters come as the form sends them ("Any" and an empty
    date are no filter); one that cannot be read is dropped with a sentence."""
    raw = {"status": status, "patient_id": patient_id, "date_from": date_from, "date_to": date_to}
    problem: str | None = None
    try:
        chosen = parse_form(InvoiceListFilters, raw)
    except ClinicError as error:
        chosen, problem = InvoiceListFilters(), error.detail
    patient: patients.Patient | None = None
    matches: list[patients.Patient] = []
    if chosen.patient_id is not None:
        patient = await patients.get_patient(session, chosen.patient_id, actor=actor)
    elif q.strip():
        found = await patients.search_patients(
            session, actor=actor, text=q.strip(), limit=10, view="invoice filter"
        )
        matches = [hit.patient for hit in found.hits]
        if len(matches) == 1:
            patient = matches[0]
    rows: list[desk.InvoiceRow] = []
    next_cursor = None
    if patient is not None or not q.strip():
        rows, next_cursor = await desk.invoice_page(
            session,
            actor=actor,
            patient_id=patient.id if patient else None,
            status=chosen.status,
            date_from=chosen.date_from,
            date_to=chosen.date_to,
            limit=PAGE_SIZE,
            cursor=cursor,
        )
    filters = {
        "status": chosen.status.value if chosen.status else "",
        "q": q,
        "patient_id": str(patient.id) if patient else "",
        "date_from": chosen.date_from.isoformat() if chosen.date_from else "",
        "date_to": chosen.date_to.isoformat() if chosen.date_to else "",
    }
    kept = {k: v for k, v in filters.items() if v and k != "q"}
    context = {
        "query": urlencode(kept),
        "rows": rows,
        "next_cursor": next_cursor,
        "filters": filters,
        "patient": patient,
        "matches": matches if patient is None else [],
        "paged": cursor is not None,
        "problem": problem,
        **words(actor),
    }
    return render(request, LIST, context)


@router.post("/invoices")
async def new_invoice(request: Request, session: SessionDep, actor: BillingWrite) -> Response:
    """A draft by hand for the patient named in the form; then its page."""
    values = form_text(await request.form(), ("patient_id", "back"))
    back = values["back"] if values["back"].startswith("/") else "/invoices"
    try:
        data = parse_form(
            InvoiceCreate,
            {"patient_id": values["patient_id"]},
            hint="Pick the patient the invoice is for.",
        )
        async with all_or_nothing(session):
            made = await invoices.create_draft(session, actor=actor, data=data)
    except ClinicError as error:
        if error.status_code == 404:
            raise
        response = redirect(back)
        flash(request, response, error.detail, "error")
        return response
    response = redirect(f"/invoices/{made.invoice.id}")
    flash(request, response, "A new draft invoice: add what is billed, then issue it.")
    return response


# --- one invoice --------------------------------------------------------------------------


async def _page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    invoice_id: uuid.UUID,
    *,
    checkout: bool = False,
    done: str | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    shown = await desk.invoice_desk(session, invoice_id, actor=actor)
    context = {
        "d": shown,
        "invoice": shown.invoice,
        "done": done,
        "error": error,
        "errors": errors or {},
        **words(actor),
        "claims": None if checkout else await claim_desk.invoice_claims(session, shown.invoice),
    }
    if checkout:
        return render(request, CHECKOUT, context, block="panel")
    return render(request, INVOICE, context, block="body")


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def invoice_page(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingRead
) -> HTMLResponse:
    return await _page(request, session, actor, invoice_id)


@router.get("/invoices/{invoice_id}/checkout", response_class=HTMLResponse)
async def checkout_page(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingRead
) -> HTMLResponse:
    """The visit's checkout: what is billed, add an item, issue, what is owed."""
    return await _page(request, session, actor, invoice_id, checkout=True)


Step = Callable[[dict[str, str], str], Awaitable[str]]


async def _change(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    invoice_id: uuid.UUID,
    fields: tuple[str, ...],
    step: Step,
) -> Response:
    """Run ``step`` (given what was typed and the currency; it answers what was done)
    all or nothing, then answer htmx with the changed part, or go back to the page."""
    form = await request.form()
    values = form_text(form, (*fields, "panel"))
    checkout = values["panel"] == "checkout"
    done: str | None = None
    error: str | None = None
    errors: dict[str, str] = {}
    try:
        currency = (await books(session)).currency
        async with all_or_nothing(session):
            done = await step(values, currency)
    except ClinicError as refused:
        if refused.status_code == 404:
            raise
        error = refusal(refused)
        errors = dict(getattr(refused, "fields", {}))
        if isinstance(refused, InvalidField):
            errors[refused.field] = refused.message
    if is_htmx(request):
        answer = await _page(
            request,
            session,
            actor,
            invoice_id,
            checkout=checkout,
            done=done,
            error=error,
            errors=errors,
        )
        if done is not None:
            # What the patient owes may have moved (issued, paid, credit used, refunded,
            # voided): the chart's balance line listens and reloads itself.
            answer.headers["HX-Trigger"] = MONEY_CHANGED
        return answer
    response = redirect(f"/invoices/{invoice_id}" + ("/checkout" if checkout else ""))
    flash(request, response, error or done or "", "error" if error else "success")
    return response


@router.post("/invoices/{invoice_id}/lines", response_class=HTMLResponse)
async def add_line(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingWrite
) -> Response:
    """An item of the fee schedule (``item``: its code, as the picker shows it) or a
    free-text line (``name`` and ``price``, with any taxes)."""

    async def step(v: dict[str, str], currency: str) -> str:
        body: dict[str, Any] = {"quantity": v["quantity"]}
        if v["item"]:
            body["fee_item_id"] = await desk.fee_item_for(session, v["item"])
        else:
            body["name"] = v["name"]
            body["code"] = v["code"]
            body["unit_price"] = amount_in(v["price"], currency, "unit_price")
            body["tax_rates"] = rates_in(v["tax_rates"]) or None
        body.update(discount_fields(v, currency))
        data = parse_form(LineAdd, body, labels=LABELS, hint=HINT)
        found = await invoices.add_line(session, actor=actor, invoice_id=invoice_id, data=data)
        return f"{found.lines[-1].name} added."

    fields = ("item", "name", "code", "price", "tax_rates", "quantity", *DISCOUNT)
    return await _change(request, session, actor, invoice_id, fields, step)


@router.post("/invoices/{invoice_id}/lines/{line_id}", response_class=HTMLResponse)
async def change_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """A line's quantity and discount (a free-text line's description and price too)."""

    async def step(v: dict[str, str], currency: str) -> str:
        body: dict[str, Any] = {"quantity": v["quantity"], "name": v["name"] or None}
        if v["price"]:
            body["unit_price"] = amount_in(v["price"], currency, "unit_price")
        body.update(discount_fields(v, currency))
        data = parse_form(LineChange, body, labels=LABELS, hint=HINT)
        await invoices.change_line(
            session,
            actor=actor,
            invoice_id=invoice_id,
            line_id=line_id,
            data=data,
            expected_version=version,
        )
        return "The line was changed."

    fields = ("quantity", "name", "price", *DISCOUNT)
    return await _change(request, session, actor, invoice_id, fields, step)


@router.post("/invoices/{invoice_id}/lines/{line_id}/remove", response_class=HTMLResponse)
async def remove_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    async def step(v: dict[str, str], currency: str) -> str:
        await invoices.remove_line(
            session, actor=actor, invoice_id=invoice_id, line_id=line_id, expected_version=version
        )
        return "The line was removed."

    return await _change(request, session, actor, invoice_id, (), step)


@router.post("/invoices/{invoice_id}/discount", response_class=HTMLResponse)
async def set_discount(
    invoice_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """The invoice's discount (percentage or amount, with its reason); empty removes it."""

    async def step(v: dict[str, str], currency: str) -> str:
        data = parse_form(InvoiceDiscount, discount_fields(v, currency), labels=LABELS, hint=HINT)
        await invoices.set_discount(
            session, actor=actor, invoice_id=invoice_id, data=data, expected_version=version
        )
        given = data.discount_percent is not None or data.discount_amount is not None
        return "The discount was set." if given else "The discount was removed."

    fields = DISCOUNT
    return await _change(request, session, actor, invoice_id, fields, step)


@router.post("/invoices/{invoice_id}/notes", response_class=HTMLResponse)
async def set_notes(
    invoice_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    async def step(v: dict[str, str], currency: str) -> str:
        current = await invoices.get_invoice(session, invoice_id, actor=actor)
        data = parse_form(
            InvoiceUpdate,
            {"notes": v["notes"], "location_id": current.invoice.location_id},
            labels=LABELS,
            hint="Notes are at most 4000 characters.",
        )
        await invoices.update_draft(
            session, actor=actor, invoice_id=invoice_id, data=data, expected_version=version
        )
        return "The notes were saved."

    return await _change(request, session, actor, invoice_id, ("notes",), step)


@router.post("/invoices/{invoice_id}/issue", response_class=HTMLResponse)
async def issue_invoice(
    invoice_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """The draft, as it was when the page showed it, gets its number and is frozen."""

    async def step(v: dict[str, str], currency: str) -> str:
        found = await issuing.issue(
            session, actor=actor, invoice_id=invoice_id, expected_version=version
        )
        return f"Issued as {found.invoice.number}."

    return await _change(request, session, actor, invoice_id, (), step)


def _line_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidField("lines", "The form names a line this invoice does not have.") from None


@router.post("/invoices/{invoice_id}/credit-notes", response_class=HTMLResponse)
async def credit_invoice(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingRefund
) -> Response:
    """Amounts (tax included) of some lines, or everything left with ``everything``.
    Who may: ``CREDIT_PERMISSION``, the API's own (the form is shown to them only)."""
    form = await request.form()
    amounts = {
        name.removeprefix("amount-"): str(value)
        for name, value in form.items()
        if name.startswith("amount-") and str(value).strip()
    }

    async def step(v: dict[str, str], currency: str) -> str:
        lines = []
        for line_id, text in amounts.items():
            amount = amount_in(text, currency, f"amount-{line_id}") or 0
            if amount > 0:
                lines.append(CreditLine(invoice_line_id=_line_id(line_id), amount=amount))
        if not lines and v["everything"] != "true":
            raise InvalidField(
                "lines",
                "Give the amount to credit of at least one line, or tick “Credit "
                "everything not yet credited”.",
            )
        data = parse_form(
            CreditNoteCreate,
            {"reason": v["reason"], "lines": [] if v["everything"] == "true" else lines},
            labels=LABELS,
            hint="Say why the invoice is credited, and give amounts such as 12.50.",
            keep_empty=("lines",),
        )
        note = await issuing.credit(session, actor=actor, invoice_id=invoice_id, data=data)
        return f"Credit note {note.note.number} made."

    return await _change(request, session, actor, invoice_id, ("reason", "everything"), step)
