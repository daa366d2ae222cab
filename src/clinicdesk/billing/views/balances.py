"""Pages of outstanding balances: the aging report (the buckets' totals, then a table of
patients, each linking to their statement), its CSV, and a patient's statement as a page
and as a PDF.

Filters typed on the page arrive as text (an empty field is "no filter"); one that is
not a value shows the page again with what to correct.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.access import BillingRead
from clinicdesk.billing.balance_schemas import AgingSort
from clinicdesk.billing.errors import BalanceFilterRefused
from clinicdesk.billing.kernel.document_words import WORDS
from clinicdesk.billing.kernel.money import to_major, to_minor
from clinicdesk.billing.schemas import MAX_AMOUNT
from clinicdesk.billing.service import aging, documents, statements
from clinicdesk.billing.service.aging import BUCKETS
from clinicdesk.billing.service.aging_export import export_csv
from clinicdesk.billing.service.statements import Statement
from clinicdesk.core.dates import format_local_date
from clinicdesk.core.pages import render
from clinicdesk.core.pdf import html_to_pdf
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity import public as identity

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=40)]
BUCKET_LABELS = {
    "0-30": "0-30 days",
    "31-60": "31-60 days",
    "61-90": "61-90 days",
    "90+": "Over 90 days",
}
SORT_LABELS = {
    AgingSort.OVERDUE: "Most overdue",
    AgingSort.BALANCE: "Largest balance",
    AgingSort.OLDEST: "Oldest invoice",
}


def money_of(currency: str) -> Callable[[int], str]:
    """Minor units shown in major units with thousands separators (``1,234.50``)."""

    def show(amount: int) -> str:
        return f"{to_major(amount, currency):,}"

    return show


def _day(value: str, label: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise BalanceFilterRefused(f"{label} is not a date: write it as YYYY-MM-DD.") from None


@dataclass(frozen=True, slots=True)
class AgingFilters:
    as_of: date | None = None
    location_id: uuid.UUID | None = None
    min_balance: int = 0
    sort: AgingSort = AgingSort.OVERDUE


def parse_filters(
    *, as_of: str, location_id: str, min_balance: str, sort: str, currency: str
) -> AgingFilters:
    try:
        location = uuid.UUID(location_id) if location_id.strip() else None
    except ValueError:
        raise BalanceFilterRefused("Choose a location from the list.") from None
    try:
        amount = Decimal(min_balance.strip().replace(",", "")) if min_balance.strip() else None
        if amount is not None and not amount.is_finite():
            raise ValueError("not a finite amount")
        minimum = to_minor(amount, currency) if amount is not None else 0
    except (InvalidOperation, ValueError):
        raise BalanceFilterRefused(
            f"The minimum balance is not an amount: write it like 50 or 50.00 ({currency})."
        ) from None
    if not 0 <= minimum <= MAX_AMOUNT:
        raise BalanceFilterRefused("The minimum balance must be zero or more.")
    try:
        order = AgingSort(sort) if sort else AgingSort.OVERDUE
    except ValueError:
        raise BalanceFilterRefused("Choose an order from the list.") from None
    return AgingFilters(_day(as_of, "The day to age on"), location, minimum, order)


@router.get("/billing/aging", response_class=HTMLResponse)
async def aging_page(
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    as_of: Text = "",
    location_id: Text = "",
    min_balance: Text = "",
    sort: Text = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The buckets' totals, then a page of patients, most overdue first."""
    organization = await identity.get_organization(session)
    currency = organization.currency.upper()
    typed = {"as_of": as_of, "location_id": location_id, "min_balance": min_balance}
    error, report = None, None
    try:
        filters = parse_filters(**typed, sort=sort, currency=currency)
        report = await aging.aging_report(
            session,
            actor=actor,
            as_of=filters.as_of,
            location_id=filters.location_id,
            min_balance=filters.min_balance,
            sort=filters.sort,
            limit=50,
            cursor=cursor,
        )
    except BalanceFilterRefused as refused:
        error = refused.detail
    params = {k: v for k, v in {**typed, "sort": sort}.items() if v}
    context: dict[str, Any] = {
        "report": report,
        "error": error,
        "typed": typed,
        "sort": sort or AgingSort.OVERDUE.value,
        "params": params,
        "locations": await identity.list_locations(session),
        "money": money_of(report.currency if report else currency),
        "buckets": BUCKETS,
        "bucket_labels": BUCKET_LABELS,
        "sort_labels": SORT_LABELS,
    }
    return render(
        request,
        "billing/aging.html",
        context,
        status_code=400 if error else 200,
        block="results",
    )


@router.get("/billing/aging.csv", response_class=Response)
async def aging_page_csv(
    session: SessionDep,
    actor: BillingRead,
    as_of: Text = "",
    location_id: Text = "",
    min_balance: Text = "",
    sort: Text = "",
) -> Response:
    """The whole report with the page's filters, as CSV."""
    organization = await identity.get_organization(session)
    filters = parse_filters(
        as_of=as_of,
        location_id=location_id,
        min_balance=min_balance,
        sort=sort,
        currency=organization.currency.upper(),
    )
    made = await export_csv(
        session,
        actor=actor,
        as_of=filters.as_of,
        location_id=filters.location_id,
        min_balance=filters.min_balance,
        sort=filters.sort,
    )
    return Response(
        made.text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


async def _statement(
    session: SessionDep, actor: BillingRead, patient_id: uuid.UUID, date_from: str, as_of: str
) -> Statement:
    return await statements.patient_statement(
        session,
        actor=actor,
        patient_id=patient_id,
        date_from=_day(date_from, "The start of the period"),
        as_of=_day(as_of, "The end of the period"),
    )


def _statement_context(statement: Statement, date_format: str) -> dict[str, Any]:
    return {
        "statement": statement,
        "money": money_of(statement.currency),
        "buckets": statement.aging.as_tuple(),
        "bucket_labels": list(BUCKET_LABELS.values()),
        "day": lambda value: format_local_date(value, date_format),
        # The tables are the PDF's too, which words them in the clinic's language.
        "w": WORDS["en"],
        "describe": lambda line: line.description,
        "suffix": f" {statement.currency}",
    }


# The PDF first: its address would otherwise match the page's ``{patient_id}``.
@router.get("/billing/statements/{patient_id}.pdf")
async def statement_pdf(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: BillingRead,
    date_from: Text = "",
    as_of: Text = "",
) -> Response:
    """The statement on paper (A4), to print or send, in the clinic's language."""
    statement = await _statement(session, actor, patient_id, date_from, as_of)
    head = await documents.letterhead(session, location_id=None)
    html = documents.statement_html(statement, head)
    name = f"statement-{statement.patient.mrn}-{statement.as_of.isoformat()}.pdf"
    return Response(
        await html_to_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/billing/statements/{patient_id}", response_class=HTMLResponse)
async def statement_page(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    date_from: Text = "",
    as_of: Text = "",
) -> Response:
    """The patient's charges and credits in date order with the running balance."""
    organization = await identity.get_organization(session)
    typed = {"date_from": date_from, "as_of": as_of}
    query = urlencode({k: v for k, v in typed.items() if v})
    try:
        statement = await _statement(session, actor, patient_id, date_from, as_of)
    except BalanceFilterRefused as refused:
        # The period as it was typed is wrong: the whole statement, with what to correct.
        statement = await _statement(session, actor, patient_id, "", "")
        context = {
            **_statement_context(statement, organization.date_format),
            "typed": typed,
            "query": "",
        }
        return render(
            request,
            "billing/statement.html",
            {**context, "error": refused.detail},
            status_code=400,
        )
    context = {**_statement_context(statement, organization.date_format), "typed": typed}
    return render(request, "billing/statement.html", {**context, "error": None, "query": query})
