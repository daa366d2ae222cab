"""Orders and results pages: the consultation's "Orders" section (order form, the
consultation's orders), an order's page (collect, enter results, sign off, cancel), the
doctor's "Results to review" and a patient's results by analyte (the trend table)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite, VitalsWrite
from clinicdesk.clinical.kernel.order_flow import OrderKind, OrderPriority, OrderStatus
from clinicdesk.clinical.kernel.result_flags import Flag, severity
from clinicdesk.clinical.models import Result, TestCatalogueItem
from clinicdesk.clinical.schemas.orders import OrderCancel, OrderPlace, ResultReview, ResultsEntry
from clinicdesk.clinical.service import catalogue, encounters, orders, results
from clinicdesk.clinical.service.orders import OrderWithResults
from clinicdesk.clinical.views.sections import Desk, section
from clinicdesk.core.errors import ClinicError, InvalidField, NotFound
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.patients import public as patients

router = APIRouter(include_in_schema=False)

SECTION = "clinical/_orders.html"
RESULT_ROWS = 6
DECIMAL_COMMA = re.compile(
    r"[-+]?\d+,\d+"
)  # empty result rows on the entry form (a small panel at once)


def show_value(value: Decimal | None) -> str:
    """A decimal as a person writes it: no trailing zeros, never an exponent."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def show_range(result: Result) -> str:
    low, high = show_value(result.reference_low), show_value(result.reference_high)
    if low and high:
        return f"{low} to {high}"
    if low:
        return f"≥ {low}"
    if high:
        return f"≤ {high}"
    return result.reference_text or ""


FLAG_CLASS = {0: "", 1: "flag-abnormal", 2: "flag-critical"}


def flag_words(flag: str | None) -> str:
    return Flag(flag).label if flag else "Normal"


# What the templates call (``h.show_value(...)``): the consultation page includes the
# section inside its own context, so the helpers travel as one object with the data.
H = SimpleNamespace(
    show_value=show_value,
    show_range=show_range,
    flag_words=flag_words,
    flag_class=lambda flag: FLAG_CLASS[severity(flag)],
    order_status=lambda status: OrderStatus(status).label,
    order_kind=lambda kind: OrderKind(kind).label,
    priorities=OrderPriority,
    order_kinds=OrderKind,
)
HELPERS: Mapping[str, Any] = {"h": H}


def _safe_back(value: object, default: str) -> str:
    """Where a form returns: one of our own pages, never another site."""
    text = str(value or "")
    return text if text.startswith("/") and not text.startswith("//") else default


# --- the consultation's section -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrdersView:
    orders: list[OrderWithResults]
    tests: list[TestCatalogueItem] = field(default_factory=list)
    error: str | None = None
    placed: str | None = None


@section(
    "orders",
    "Orders",
    template=SECTION,
    order=60,
    permission=Permission.CLINICAL_READ,
)
async def orders_section(desk: Desk) -> dict[str, Any]:
    found = await orders.list_for_encounter(
        desk.session, actor=desk.actor, encounter_id=desk.encounter.id
    )
    tests = list(await catalogue.list_catalogue(desk.session)) if desk.writable else []
    return {"orders_view": OrdersView(found, tests), **HELPERS}


@router.post("/encounters/{encounter_id}/orders", response_class=HTMLResponse)
async def place_order(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """From the section's form: a catalogue test, or free text with its kind."""
    form = await request.form()
    error, placed = None, None
    try:
        async with all_or_nothing(session):
            data = parse_form(
                OrderPlace,
                {
                    "catalogue_item_id": str(form.get("catalogue_item_id") or "") or None,
                    "name": str(form.get("name") or "").strip() or None,
                    "kind": str(form.get("kind") or "") or None,
                    "priority": str(form.get("priority") or "") or None,
                    "clinical_note": str(form.get("clinical_note") or "").strip() or None,
                },
                labels={"name": "Test", "clinical_note": "Note for the lab"},
                hint="Pick a test from the catalogue or type its name.",
            )
            order = await orders.place_order(
                session, actor=actor, encounter_id=encounter_id, data=data
            )
            placed = f"{order.name} ordered."
    except NotFound:
        raise
    except ClinicError as refused:
        error = refused.detail
    if not is_htmx(request):
        response = redirect(f"/encounters/{encounter_id}#section-orders")
        flash(request, response, error or placed or "", "error" if error else "success")
        return response
    desk_found = await orders.list_for_encounter(session, actor=actor, encounter_id=encounter_id)
    encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
    tests = list(await catalogue.list_catalogue(session))
    context = {
        "encounter": encounter,
        "writable": encounter.status in ("planned", "in-progress"),
        "orders_view": OrdersView(desk_found, tests, error=error, placed=placed),
        **HELPERS,
    }
    return render(request, SECTION, context, block="section")


# --- an order's page ------------------------------------------------------------------


def order_url(order_id: uuid.UUID) -> str:
    return f"/orders/{order_id}"


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    order_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalRead
) -> HTMLResponse:
    found = await orders.get_order(session, order_id, actor=actor)
    patient = await patients.get_patient(session, found.order.patient_id, actor=actor)
    return render(
        request,
        "clinical/order.html",
        {"found": found, "patient": patient, "rows": range(RESULT_ROWS), **HELPERS},
    )


async def _step(
    request: Request,
    back: str,
    done: str,
    use_case: Any,
    session: SessionDep,
) -> Response:
    """Run one step of an order from a form and go back where the form was, with what
    happened. A record of another organization (or none) is a 404 page, not a message."""
    form = await request.form()
    response = redirect(_safe_back(form.get("back"), back))
    try:
        async with all_or_nothing(session):
            await use_case(form)
    except NotFound:
        raise
    except ClinicError as error:
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, done)
    return response


@router.post("/orders/{order_id}/collected", response_class=HTMLResponse)
async def mark_collected(
    order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: VitalsWrite,
    version: FormVersion,
) -> Response:
    async def use_case(_form: Any) -> None:
        await orders.mark_collected(
            session, actor=actor, order_id=order_id, expected_version=version
        )

    return await _step(request, order_url(order_id), "Marked collected.", use_case, session)


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(
    order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    async def use_case(form: Any) -> None:
        await orders.find_order(session, order_id)  # 404 before the form's own checks
        data = parse_form(
            OrderCancel,
            {"reason": str(form.get("reason") or "").strip()},
            labels={"reason": "Reason"},
            hint="Say why the order is cancelled (at least 3 characters).",
        )
        await orders.cancel_order(
            session,
            actor=actor,
            order_id=order_id,
            reason=data.reason or "",
            expected_version=version,
        )

    return await _step(request, order_url(order_id), "Order cancelled.", use_case, session)


def _entered_rows(form: Any) -> list[dict[str, Any]]:
    """The filled rows of the entry form. A value that reads as a number is numeric,
    anything else ("positive", "see report") is text; a number with a decimal comma is
    refused rather than guessed."""
    rows = []
    for i in range(RESULT_ROWS):
        value = str(form.get(f"value_{i}") or "").strip()
        analyte = str(form.get(f"analyte_{i}") or "").strip()
        if not value and not analyte:
            continue
        row: dict[str, Any] = {
            "analyte": analyte or None,
            "unit": str(form.get(f"unit_{i}") or "").strip() or None,
            "reference_low": str(form.get(f"low_{i}") or "").strip() or None,
            "reference_high": str(form.get(f"high_{i}") or "").strip() or None,
            "abnormal": form.get(f"abnormal_{i}") == "1",
        }
        if DECIMAL_COMMA.fullmatch(value):
            # "1,5" or "1,500"? Guessing would put a wrong number on the record.
            raise InvalidField(f"value_{i}", f"Write {value} with a point (5.1), not a comma.")
        try:
            number = Decimal(value)
            numeric = number.is_finite()
        except InvalidOperation:
            numeric = False
        row["value_numeric" if numeric else "value_text"] = (
            value.replace(",", ".") if numeric else (value or None)
        )
        rows.append(row)
    return rows


@router.post("/orders/{order_id}/results", response_class=HTMLResponse)
async def enter_results(
    order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    async def use_case(form: Any) -> None:
        await orders.find_order(session, order_id)
        data = parse_form(
            ResultsEntry,
            {"results": _entered_rows(form)},
            hint="Enter at least one result: a value on each filled row, with the range "
            "low below high.",
        )
        await results.enter_results(
            session, actor=actor, order_id=order_id, data=data, expected_version=version
        )

    return await _step(request, order_url(order_id), "Results saved.", use_case, session)


@router.post("/orders/{order_id}/review", response_class=HTMLResponse)
async def review_order(
    order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    """Sign off every result of the order still unsigned."""

    async def use_case(form: Any) -> None:
        await orders.find_order(session, order_id)
        data = parse_form(ResultReview, {"comment": str(form.get("comment") or "").strip()})
        await results.review_order(
            session, actor=actor, order_id=order_id, comment=data.comment, expected_version=version
        )

    return await _step(request, order_url(order_id), "Results signed off.", use_case, session)


@router.post("/results/{result_id}/review", response_class=HTMLResponse)
async def review_result(
    result_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    async def use_case(form: Any) -> None:
        data = parse_form(ResultReview, {"comment": str(form.get("comment") or "").strip()})
        await results.review_result(
            session,
            actor=actor,
            result_id=result_id,
            comment=data.comment,
            expected_version=version,
        )

    return await _step(request, "/results/inbox", "Result signed off.", use_case, session)


# --- the doctor's inbox, a patient's results --------------------------------------------


@router.get("/results/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request, session: SessionDep, actor: ClinicalWrite) -> HTMLResponse:
    found = await results.results_to_review(session, actor=actor)
    waiting = await results.count_to_review(session, actor=actor)
    pending: dict[uuid.UUID, int] = {}
    for entry in found:
        pending[entry.order.id] = pending.get(entry.order.id, 0) + 1
    return render(
        request,
        "clinical/inbox.html",
        {"entries": found, "waiting": waiting, "pending": pending, **HELPERS},
    )


@router.get("/patients/{patient_id}/results", response_class=HTMLResponse)
async def patient_results_page(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalRead,
    analyte: str | None = Query(default=None, max_length=120),
) -> HTMLResponse:
    """Each analyte's values, newest first, with their flags (the trend as a table)."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    found = await results.patient_results(
        session, actor=actor, patient_id=patient.id, analyte=analyte
    )
    series: dict[str, list[Result]] = {}
    for result in found:
        series.setdefault(result.analyte, []).append(result)
    return render(
        request,
        "clinical/patient_results.html",
        {"patient": patient, "series": series, "analyte": analyte, **HELPERS},
    )
