"""JSON API of invoices: list (by patient, status, dates), read, draft by hand, add /
change / remove lines, the invoice's discount and notes, issue, credit notes.

Every update carries the invoice's ``If-Match`` (a line change moves the invoice's
version too); every money-creating POST honours ``Idempotency-Key``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from clinicdesk.billing.access import BillingRead, BillingRefund, BillingWrite
from clinicdesk.billing.schemas import (
    CreditNoteCreate,
    CreditNoteLineRead,
    CreditNoteList,
    CreditNoteRead,
    InvoiceCreate,
    InvoiceDiscount,
    InvoiceList,
    InvoiceRead,
    InvoiceSummary,
    InvoiceUpdate,
    LineAdd,
    LineChange,
    LineRead,
)
from clinicdesk.billing.service import invoices, issuing
from clinicdesk.billing.service.common import InvoiceWithLines
from clinicdesk.billing.service.issuing import CreditNoteWithLines
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once, run_once
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])


def detail(found: InvoiceWithLines) -> InvoiceRead:
    return InvoiceRead.model_validate(
        {
            **InvoiceSummary.model_validate(found.invoice).model_dump(),
            "lines": [LineRead.model_validate(line) for line in found.lines],
        }
    )


def _answer(response: Response, found: InvoiceWithLines) -> InvoiceRead:
    with_etag(response, found.invoice.version)
    return detail(found)


def note_detail(found: CreditNoteWithLines) -> CreditNoteRead:
    return CreditNoteRead.model_validate(
        {
            **{k: getattr(found.note, k) for k in CreditNoteRead.model_fields if k != "lines"},
            "lines": [CreditNoteLineRead.model_validate(line) for line in found.lines],
        }
    )


@router.get("/invoices", response_model=InvoiceList)
async def list_invoices(
    session: SessionDep,
    actor: BillingRead,
    patient_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    date_from: Annotated[date | None, Query(description="Issued (or drafted) on or after.")] = None,
    date_to: Annotated[date | None, Query(description="Issued (or drafted) on or before.")] = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
) -> InvoiceList:
    found, next_cursor = await invoices.list_invoices(
        session,
        actor=actor,
        patient_id=patient_id,
        status=status,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    return InvoiceList(
        items=[InvoiceSummary.model_validate(i) for i in found], next_cursor=next_cursor
    )


@router.post(
    "/invoices",
    response_model=InvoiceRead,
    status_code=201,
    summary="Draft an invoice by hand (send Idempotency-Key to retry safely)",
)
async def create_invoice(
    session: SessionDep,
    actor: BillingWrite,
    body: InvoiceCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> InvoiceRead:
        return detail(await invoices.create_draft(session, actor=actor, data=body))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/invoices",
        body=body,
        create=create,
    )


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead)
async def read_invoice(
    invoice_id: uuid.UUID, response: Response, session: SessionDep, actor: BillingRead
) -> InvoiceRead:
    return _answer(response, await invoices.get_invoice(session, invoice_id, actor=actor))


@router.patch("/invoices/{invoice_id}", response_model=InvoiceRead)
async def update_invoice(
    invoice_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: InvoiceUpdate,
    if_match: IfMatch,
) -> InvoiceRead:
    """A draft's notes and location (both replaced; 409 once issued)."""
    found = await invoices.update_draft(
        session, actor=actor, invoice_id=invoice_id, data=body, expected_version=if_match
    )
    return _answer(response, found)


@router.post(
    "/invoices/{invoice_id}/lines",
    response_model=InvoiceRead,
    status_code=201,
    summary="Add a line to a draft (send Idempotency-Key to retry safely)",
)
async def add_line(
    invoice_id: uuid.UUID,
    session: SessionDep,
    actor: BillingWrite,
    body: LineAdd,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A fee item (``fee_item_id``) or free text (``name``, ``unit_price``); answers
    the whole invoice with its new figures. 409 once issued."""

    async def create() -> InvoiceRead:
        return detail(
            await invoices.add_line(session, actor=actor, invoice_id=invoice_id, data=body)
        )

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/invoices/{invoice_id}/lines",
        body=body,
        create=create,
    )


@router.put("/invoices/{invoice_id}/lines/{line_id}", response_model=InvoiceRead)
async def change_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: LineChange,
    if_match: IfMatch,
) -> InvoiceRead:
    found = await invoices.change_line(
        session,
        actor=actor,
        invoice_id=invoice_id,
        line_id=line_id,
        data=body,
        expected_version=if_match,
    )
    return _answer(response, found)


@router.delete("/invoices/{invoice_id}/lines/{line_id}", response_model=InvoiceRead)
async def remove_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    if_match: IfMatch,
) -> InvoiceRead:
    found = await invoices.remove_line(
        session, actor=actor, invoice_id=invoice_id, line_id=line_id, expected_version=if_match
    )
    return _answer(response, found)


@router.put("/invoices/{invoice_id}/discount", response_model=InvoiceRead)
async def set_discount(
    invoice_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: InvoiceDiscount,
    if_match: IfMatch,
) -> InvoiceRead:
    """Percentage or amount with its reason; an empty body removes it."""
    found = await invoices.set_discount(
        session, actor=actor, invoice_id=invoice_id, data=body, expected_version=if_match
    )
    return _answer(response, found)


@router.post("/invoices/{invoice_id}/issue", response_model=InvoiceRead)
async def issue_invoice(
    invoice_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Give the draft its number (gapless per organization and year) and freeze it."""

    async def use_case() -> tuple[int, object]:
        found = await issuing.issue(
            session, actor=actor, invoice_id=invoice_id, expected_version=if_match
        )
        return 200, detail(found).model_dump(mode="json")

    outcome = await run_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/invoices/{invoice_id}/issue",
        body={"if_match": if_match},
        use_case=use_case,
    )
    headers = {"ETag": f'W/"{outcome.body["version"]}"'}
    if outcome.replayed:
        headers["Idempotency-Replayed"] = "true"
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("/invoices/{invoice_id}/credit-notes", response_model=CreditNoteList)
async def list_credit_notes(
    invoice_id: uuid.UUID, session: SessionDep, actor: BillingRead
) -> CreditNoteList:
    found = await issuing.credit_notes_of(session, invoice_id, actor=actor)
    return CreditNoteList(items=[note_detail(f) for f in found])


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    response_model=CreditNoteRead,
    status_code=201,
    summary="Credit an issued invoice (send Idempotency-Key to retry safely)",
)
async def create_credit_note(
    invoice_id: uuid.UUID,
    session: SessionDep,
    actor: BillingRefund,
    body: CreditNoteCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Lines with amounts (tax included, minor units), or no lines for everything not
    yet credited; 409 past what is left to credit. Billing and the admin only
    (``billing:refund``); what was paid of the credited part becomes the patient's
    credit."""

    async def create() -> CreditNoteRead:
        return note_detail(
            await issuing.credit(session, actor=actor, invoice_id=invoice_id, data=body)
        )

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/invoices/{invoice_id}/credit-notes",
        body=body,
        create=create,
    )
