"""Payments: record money received (allocated to invoices, the rest kept as credit),
void one taken in error, read one or a list.

* Money is received once: the JSON API wraps ``record_payment`` in ``Idempotency-Key``;
  other callers use ``record_gateway_payment``, which takes the key itself.
* Allocation is explicit (the invoices and amounts named, each at most its
  ``amount_due``) or automatic (the patient's issued invoices, oldest first). What is not
  allocated is the patient's credit (``credit.apply_credit`` uses it later,
  ``refunds.refund`` gives it back).
* A void never deletes: the payment stays, marked voided with its reason, and its
  allocations are released (the invoices are owed again). A payment with refunds cannot
  be voided: the refunded money really went back, so the rest is refunded instead.
* Every change is audited in its transaction; the invoices touched are locked in id
  order (``ledger``'s lock order).

**Card gateway.** The gateway's webhook (``card_payments``, verified and deduplicated on
the provider's event id) records a captured card payment through
``record_gateway_payment`` with ``method=card``, the provider's reference and the event
id as idempotency key. Nothing here knows the provider.

**Day close.** ``day_guard.check_day_open`` is called with the payment's
``business_date`` (the organization's date at ``received_at``) before anything is
written: a closed day refuses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import PaymentInvalid, PaymentNotFound, VoidRefused
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_models import Payment, PaymentAllocation, Refund
from clinicdesk.billing.payment_schemas import PaymentCreate
from clinicdesk.billing.service import ledger
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.day_guard import check_day_open
from clinicdesk.billing.vocabulary import (
    AllocationKind,
    InvoiceStatus,
    PaymentMethod,
    PaymentStatus,
)
from clinicdesk.core.actor import Actor
from clinicdesk.core.idempotency import run_once
from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

# A desk's clock may run a little ahead of the server's; more is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
# Back-dating further than this is a typing error, not a late entry.
OLDEST_BACKDATE = timedelta(days=366)
# A unique index treats NULLs as distinct, so a key claimed by a caller without a user
# (a gateway's webhook acts as the system) is stored under the nil UUID instead.
NO_USER = uuid.UUID(int=0)
# Oldest-first allocation looks at this many open invoices (a patient has a few).
AUTO_ALLOCATION_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PaymentWithEntries:
    payment: Payment
    allocations: Sequence[PaymentAllocation]
    refunds: Sequence[Refund]


async def find_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound("No payment with this id.")
    return payment


async def entries_of(session: AsyncSession, payment: Payment) -> PaymentWithEntries:
    allocations = await session.scalars(
        select(PaymentAllocation)
        .where(PaymentAllocation.payment_id == payment.id)
        .order_by(PaymentAllocation.created_at, PaymentAllocation.id)
    )
    refunds = await session.scalars(
        select(Refund)
        .where(Refund.payment_id == payment.id)
        .order_by(Refund.refunded_at, Refund.id)
    )
    return PaymentWithEntries(payment, list(allocations), list(refunds))


async def _open_invoices(session: AsyncSession, patient_id: uuid.UUID) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Invoice.id)
        .where(
            Invoice.patient_id == patient_id,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.amount_due > 0,
        )
        .order_by(Invoice.issue_date, Invoice.number_year, Invoice.number_seq)
        .limit(AUTO_ALLOCATION_LIMIT)
    )
    return list(found)


async def record_payment(
    session: AsyncSession, *, actor: Actor, data: PaymentCreate
) -> PaymentWithEntries:
    """Take the money and allocate it (see the module); refused as a whole when any
    allocation is (another currency, another patient's or a draft invoice, more than an
    invoice's ``amount_due``, more than the payment)."""
    patient = await patients.get_patient(session, data.patient_id, actor=actor)
    ledger_books = await books(session)
    currency = (data.currency or ledger_books.currency).upper()
    if currency != ledger_books.currency:
        raise PaymentInvalid(
            "currency", f"Payments are taken in {ledger_books.currency}, not {currency}."
        )
    now = utcnow()
    received_at = data.received_at or now
    if received_at > now + CLOCK_SKEW:
        raise PaymentInvalid("received_at", "A payment cannot be received in the future.")
    if received_at < now - OLDEST_BACKDATE:
        raise PaymentInvalid("received_at", "A payment more than a year back is refused.")
    if data.location_id is not None:
        await identity.get_location(session, data.location_id)
    business_date = ledger_books.today(received_at)
    await check_day_open(
        session, business_date=business_date, location_id=data.location_id, change="payment"
    )
    if data.allocations is not None:
        wanted = sum(a.amount for a in data.allocations)
        if wanted > data.amount:
            raise PaymentInvalid(
                "allocations",
                f"The allocations add up to {wanted}, more than the payment ({data.amount}).",
            )
        targets = [a.invoice_id for a in data.allocations]
    else:
        targets = await _open_invoices(session, patient.id)
    invoices = await ledger.lock_invoices(session, targets)
    for invoice in invoices.values():
        ledger.check_payable(invoice, patient_id=patient.id, currency=currency, field="allocations")

    payment = Payment(
        # Its id and figures are set here, not at a flush: the payment, its allocations,
        # the invoices' new figures and the entries are written by one flush at the end
        # (the payment's row goes in once, already allocated).
        id=new_id(),
        patient_id=patient.id,
        method=data.method,
        amount=data.amount,
        currency=currency,
        received_at=received_at,
        business_date=business_date,
        location_id=data.location_id,
        taken_by_id=actor.user_id,
        reference=data.reference,
        status=PaymentStatus.RECORDED,
        allocated=0,
        refunded=0,
    )
    session.add(payment)
    await audit.record(
        session,
        action="payment.recorded",
        actor=actor,
        resource_type="payment",
        resource_id=payment.id,
        patient_id=payment.patient_id,
        changes=audit.changes(None, audit.snapshot(payment)),
        flush=False,
    )
    made = []
    if data.allocations is not None:
        for wanted_one in data.allocations:
            made.append(
                await ledger.allocate(
                    session,
                    actor=actor,
                    payment=payment,
                    invoice=invoices[wanted_one.invoice_id],
                    amount=wanted_one.amount,
                    kind=AllocationKind.PAYMENT,
                )
            )
    else:
        for invoice_id in targets:  # oldest first
            invoice = invoices[invoice_id]
            part = min(invoice.amount_due, payment.unallocated)
            if part > 0:
                made.append(
                    await ledger.allocate(
                        session,
                        actor=actor,
                        payment=payment,
                        invoice=invoice,
                        amount=part,
                        kind=AllocationKind.PAYMENT,
                    )
                )
    await session.flush()
    return PaymentWithEntries(payment, made, [])


async def record_gateway_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    data: PaymentCreate,
    idempotency_key: str,
    operation: str = "gateway payment",
) -> PaymentWithEntries:
    """For a card gateway's adapter: ``record_payment`` at most once per key (the
    provider's event or charge id). A repeat answers the payment recorded the first
    time; the same key with other figures is refused (``IdempotencyKeyReused``)."""

    async def use_case() -> tuple[int, object]:
        made = await record_payment(session, actor=actor, data=data)
        return 201, {"payment_id": str(made.payment.id)}

    outcome = await run_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id or NO_USER,
        operation=operation,
        body=data.model_dump(mode="json"),
        use_case=use_case,
    )
    payment = await find_payment(session, uuid.UUID(outcome.body["payment_id"]))
    return await entries_of(session, payment)


async def void_payment(
    session: AsyncSession, *, actor: Actor, payment_id: uuid.UUID, reason: str
) -> PaymentWithEntries:
    """Mark a payment taken in error as voided (kept, audited) and release its
    allocations. Refused if voided already or if any of it was refunded."""
    payment = await find_payment(session, payment_id)
    await patients.get_patient(session, payment.patient_id, actor=actor, follow_merge=False)
    live = await ledger.live_allocations(session, payment_ids=[payment.id])
    invoices = await ledger.lock_invoices(session, [i for _, i, _ in live])
    payment = (await ledger.lock_payments(session, [payment.id]))[payment.id]
    # Allocations are only added under the invoices' locks, which we now hold, and
    # under this payment's lock: re-read so that none added meanwhile is missed.
    live = await ledger.live_allocations(session, payment_ids=[payment.id])
    missing = {i for _, i, _ in live} - invoices.keys()
    if missing:
        invoices |= await ledger.lock_invoices(session, missing)
    if payment.status == PaymentStatus.VOIDED:
        raise VoidRefused("This payment is already voided.")
    if payment.refunded > 0:
        raise VoidRefused(
            f"{payment.refunded} of this payment was refunded, so it was real money; "
            "refund the rest instead of voiding it.",
            refunded=payment.refunded,
        )
    await check_day_open(
        session,
        business_date=payment.business_date,
        location_id=payment.location_id,
        change="void",
    )
    before = audit.snapshot(payment)
    await ledger.release(
        session,
        actor=actor,
        payments={payment.id: payment},
        invoices=invoices,
        live=live,
        amount=payment.allocated,
        kind=AllocationKind.VOIDED,
    )
    payment.status = PaymentStatus.VOIDED
    payment.void_reason = reason
    payment.voided_by_id = actor.user_id
    payment.voided_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="payment.voided",
        actor=actor,
        resource_type="payment",
        resource_id=payment.id,
        patient_id=payment.patient_id,
        changes=audit.changes(before, audit.snapshot(payment)),
    )
    return await entries_of(session, payment)


async def get_payment(
    session: AsyncSession, payment_id: uuid.UUID, *, actor: Actor
) -> PaymentWithEntries:
    """The payment with its allocations and refunds (the read is recorded)."""
    payment = await find_payment(session, payment_id)
    await patients.get_patient(session, payment.patient_id, actor=actor, follow_merge=False)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=payment.patient_id,
        view="payment",
        resource_type="payment",
        resource_id=payment.id,
    )
    return await entries_of(session, payment)


async def list_payments(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    location_id: uuid.UUID | None = None,
    method: PaymentMethod | None = None,
    status: PaymentStatus | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Payment], str | None]:
    """Newest first; ``date_from``/``date_to`` (inclusive) are business dates."""
    offset = decode_cursor(cursor)
    statement = select(Payment).order_by(Payment.received_at.desc(), Payment.id.desc())
    if patient_id is not None:
        statement = statement.where(Payment.patient_id == patient_id)
    if date_from is not None:
        statement = statement.where(Payment.business_date >= date_from)
    if date_to is not None:
        statement = statement.where(Payment.business_date <= date_to)
    if location_id is not None:
        statement = statement.where(Payment.location_id == location_id)
    if method is not None:
        statement = statement.where(Payment.method == method)
    if status is not None:
        statement = statement.where(Payment.status == status)
    found = list((await session.scalars(statement.offset(offset).limit(limit + 1))).all())
    more = len(found) > limit
    found = found[:limit]
    await audit.record_list_read(
        session, actor=actor, patient_ids=[p.patient_id for p in found], view="payments"
    )
    return found, encode_cursor(offset + limit) if more else None
