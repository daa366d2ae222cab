"""JSON API of payments: record (``billing:write``, the front desk takes payments), list,
read, refund and void (``billing:refund``: billing and the admin), apply the patient's
credit to an invoice, and the patient's balance.

Every money-creating POST (payments, refunds, credit applications) honours
``Idempotency-Key``: a retry gets the first answer and the money is taken once.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from clinicdesk.billing.access import BillingRead, BillingRefund, BillingWrite
from clinicdesk.billing.payment_schemas import (
    AllocationRead,
    BalanceRead,
    CreditApplication,
    CreditApplied,
    PaymentCreate,
    PaymentList,
    PaymentRead,
    PaymentSummary,
    RefundCreate,
    RefundRead,
    VoidRequest,
)
from clinicdesk.billing.service import credit, payments, refunds
from clinicdesk.billing.service.payments import PaymentWithEntries
from clinicdesk.billing.vocabulary import PaymentMethod, PaymentStatus
from clinicdesk.core.http import with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])


def detail(found: PaymentWithEntries) -> PaymentRead:
    return PaymentRead.model_validate(
        {
            **PaymentSummary.model_validate(found.payment).model_dump(),
            "allocations": [AllocationRead.model_validate(a) for a in found.allocations],
            "refunds": [RefundRead.model_validate(r) for r in found.refunds],
        }
    )


@router.post(
    "/payments",
    response_model=PaymentRead,
    status_code=201,
    summary="Record a payment (send Idempotency-Key to retry safely)",
)
async def record_payment(
    session: SessionDep,
    actor: BillingWrite,
    body: PaymentCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Allocated as ``allocations`` says, or to the patient's issued invoices oldest
    first when left out; the rest is the patient's credit. 409 past an invoice's
    ``amount_due`` or for a draft; 422 for another currency or patient."""

    async def create() -> PaymentRead:
        return detail(await payments.record_payment(session, actor=actor, data=body))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/payments",
        body=body,
        create=create,
    )


@router.get("/payments", response_model=PaymentList)
async def list_payments(
    session: SessionDep,
    actor: BillingRead,
    patient_id: uuid.UUID | None = None,
    date_from: Annotated[date | None, Query(description="Business date on or after.")] = None,
    date_to: Annotated[date | None, Query(description="Business date on or before.")] = None,
    location_id: uuid.UUID | None = None,
    method: PaymentMethod | None = None,
    status: PaymentStatus | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
) -> PaymentList:
    found, next_cursor = await payments.list_payments(
        session,
        actor=actor,
        patient_id=patient_id,
        date_from=date_from,
        date_to=date_to,
        location_id=location_id,
        method=method,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return PaymentList(
        items=[PaymentSummary.model_validate(p) for p in found], next_cursor=next_cursor
    )


@router.get("/payments/{payment_id}", response_model=PaymentRead)
async def read_payment(
    payment_id: uuid.UUID, response: Response, session: SessionDep, actor: BillingRead
) -> PaymentRead:
    found = await payments.get_payment(session, payment_id, actor=actor)
    with_etag(response, found.payment.version)
    return detail(found)


@router.post(
    "/payments/{payment_id}/refunds",
    response_model=RefundRead,
    status_code=201,
    summary="Refund part or all of a payment (send Idempotency-Key to retry safely)",
)
async def refund_payment(
    payment_id: uuid.UUID,
    session: SessionDep,
    actor: BillingRefund,
    body: RefundCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """By the payment's own method, with a reason; at most what is not yet refunded.
    Beyond the payment's unallocated part, its invoices are owed again (issue a credit
    note first when the service is not billed any more)."""

    async def create() -> RefundRead:
        made = await refunds.refund(session, actor=actor, payment_id=payment_id, data=body)
        return RefundRead.model_validate(made)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/payments/{payment_id}/refunds",
        body=body,
        create=create,
    )


@router.post("/payments/{payment_id}/void", response_model=PaymentRead)
async def void_payment(
    payment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingRefund,
    body: VoidRequest,
) -> PaymentRead:
    """A payment taken in error: kept and marked voided, its allocations released.
    409 when already voided or when any of it was refunded."""
    found = await payments.void_payment(
        session, actor=actor, payment_id=payment_id, reason=body.reason
    )
    with_etag(response, found.payment.version)
    return detail(found)


@router.post(
    "/invoices/{invoice_id}/apply-credit",
    response_model=CreditApplied,
    status_code=201,
    summary="Pay an invoice from the patient's credit (send Idempotency-Key to retry safely)",
)
async def apply_credit(
    invoice_id: uuid.UUID,
    session: SessionDep,
    actor: BillingWrite,
    body: CreditApplication,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> CreditApplied:
        invoice, made = await credit.apply_credit(
            session, actor=actor, invoice_id=invoice_id, amount=body.amount
        )
        return CreditApplied(
            invoice_id=invoice.id,
            applied=sum(a.amount for a in made),
            amount_paid=invoice.amount_paid,
            amount_due=invoice.amount_due,
            allocations=[AllocationRead.model_validate(a) for a in made],
        )

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/invoices/{invoice_id}/apply-credit",
        body=body,
        create=create,
    )


@router.get("/patients/{patient_id}/balance", response_model=BalanceRead)
async def patient_balance(
    patient_id: uuid.UUID, session: SessionDep, actor: BillingRead
) -> BalanceRead:
    """``balance = invoiced - credited - paid + refunded = owed - credit_available``."""
    return await credit.balance(session, actor=actor, patient_id=patient_id)
