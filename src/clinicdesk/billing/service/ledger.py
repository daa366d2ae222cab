"""The ledger between payments and invoices: locking, applying and releasing money.

Rules every use case of payments keeps (and ``tests/billing/test_payments_invariant.py``
checks after random sequences of them):

* ``invoice.amount_paid`` is the sum of the invoice's allocation rows, and
  ``invoice.amount_due = total - credited_total - amount_paid`` is never below zero;
* ``payment.allocated`` / ``payment.refunded`` are the sums of its allocation and refund
  rows, and ``amount - allocated - refunded`` (its unallocated part, the patient's
  credit) is never below zero;
* so a patient's balance, ``invoiced - credited - paid + refunded``, always equals
  ``owed - credit``.

**Lock order.** Every change locks the invoices it touches first, in id order, then the
payments, in id order (``lock_invoices`` then ``lock_payments``). Two desks paying,
refunding, voiding or crediting the same invoices therefore queue behind each other
instead of deadlocking; on SQLite the write lock taken at ``BEGIN IMMEDIATE`` orders them
the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import AllocationRefused, InvoiceNotFound, PaymentInvalid
from clinicdesk.billing.kernel.money import in_words
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_models import Payment, PaymentAllocation
from clinicdesk.billing.service.common import audit_invoice
from clinicdesk.billing.vocabulary import AllocationKind, InvoiceStatus, PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow


async def lock_invoices(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Invoice]:
    """The invoices, locked for update in id order (see the lock order) and read afresh
    (an earlier unlocked read in this session is overwritten, so no stale version is
    written back). An unknown id is ``InvoiceNotFound``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(
        select(Invoice)
        .where(Invoice.id.in_(wanted))
        .order_by(Invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    locked = {i.id: i for i in found}
    if len(locked) != len(wanted):
        raise InvoiceNotFound("No invoice with this id.")
    return locked


async def lock_payments(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Payment]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(
        select(Payment)
        .where(Payment.id.in_(wanted))
        .order_by(Payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {p.id: p for p in found}


def check_payable(invoice: Invoice, *, patient_id: uuid.UUID, currency: str, field: str) -> None:
    """An invoice money may go to: issued, the same patient's, in the same currency."""
    if invoice.patient_id != patient_id:
        raise PaymentInvalid(field, f"Invoice {invoice.number or invoice.id} is another patient's.")
    if invoice.status != InvoiceStatus.ISSUED:
        raise AllocationRefused(
            "A draft invoice cannot be paid; issue it first.", invoice_id=str(invoice.id)
        )
    if invoice.currency != currency:
        raise PaymentInvalid(
            field, f"Invoice {invoice.number} is in {invoice.currency}, the money in {currency}."
        )


async def allocate(
    session: AsyncSession,
    *,
    actor: Actor,
    payment: Payment,
    invoice: Invoice,
    amount: int,
    kind: AllocationKind,
) -> PaymentAllocation:
    """Apply ``amount`` of the (locked) payment to the (locked) invoice. Refused past the
    invoice's ``amount_due`` or the payment's unallocated part.

    Written by the caller's next flush, with its entry: a use case applying money to
    several invoices writes each row once (the payment's new figures once, not once per
    invoice). The caller flushes before it returns."""
    if amount > invoice.amount_due:
        raise AllocationRefused(
            f"Invoice {invoice.number} asks for {in_words(invoice.amount_due, invoice.currency)}; "
            f"{in_words(amount, invoice.currency)} is more. Allocate at most that; the rest of "
            "the payment stays as the patient's credit.",
            invoice_id=str(invoice.id),
            amount_due=invoice.amount_due,
        )
    if amount > payment.unallocated:
        raise AllocationRefused(
            f"Only {payment.unallocated} of this payment is left to allocate.",
            payment_id=str(payment.id),
        )
    return await _entry(
        session, actor=actor, payment=payment, invoice=invoice, amount=amount, kind=kind
    )


async def _entry(
    session: AsyncSession,
    *,
    actor: Actor,
    payment: Payment,
    invoice: Invoice,
    amount: int,
    kind: AllocationKind,
) -> PaymentAllocation:
    before = audit.snapshot(invoice)
    entry = PaymentAllocation(
        payment_id=payment.id,
        invoice_id=invoice.id,
        amount=amount,
        kind=kind,
        made_by_id=actor.user_id,
    )
    session.add(entry)
    payment.allocated += amount
    payment.updated_at = utcnow()
    invoice.amount_paid += amount
    invoice.amount_due = invoice.total - invoice.credited_total - invoice.amount_paid
    invoice.updated_at = utcnow()
    await audit_invoice(
        session,
        actor=actor,
        action="invoice.paid" if amount > 0 else "invoice.payment_released",
        invoice=invoice,
        before=before,
        details={"payment_id": str(payment.id), "amount": amount, "kind": str(kind)},
        flush=False,
    )
    return entry


async def live_allocations(
    session: AsyncSession,
    *,
    payment_ids: Sequence[uuid.UUID] | None = None,
    invoice_id: uuid.UUID | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """``(payment_id, invoice_id, net amount)`` still applied, the latest applied first
    (money is released in that order: the last paid is the first given back)."""
    statement = (
        select(
            PaymentAllocation.payment_id,
            PaymentAllocation.invoice_id,
            func.sum(PaymentAllocation.amount),
        )
        .group_by(PaymentAllocation.payment_id, PaymentAllocation.invoice_id)
        .having(func.sum(PaymentAllocation.amount) > 0)
        .order_by(func.max(PaymentAllocation.created_at).desc(), PaymentAllocation.payment_id)
    )
    if payment_ids is not None:
        statement = statement.where(PaymentAllocation.payment_id.in_(payment_ids))
    if invoice_id is not None:
        statement = statement.where(PaymentAllocation.invoice_id == invoice_id)
    rows = await session.execute(statement)
    return [(p, i, int(a)) for p, i, a in rows.all()]


async def release(
    session: AsyncSession,
    *,
    actor: Actor,
    payments: dict[uuid.UUID, Payment],
    invoices: dict[uuid.UUID, Invoice],
    live: Sequence[tuple[uuid.UUID, uuid.UUID, int]],
    amount: int,
    kind: AllocationKind,
) -> int:
    """Release up to ``amount`` of the ``live`` allocations, in their order, back to
    their payments (all locked by the caller); returns what was released."""
    left = amount
    for payment_id, invoice_id, applied in live:
        if left <= 0:
            break
        part = min(applied, left)
        await _entry(
            session,
            actor=actor,
            payment=payments[payment_id],
            invoice=invoices[invoice_id],
            amount=-part,
            kind=kind,
        )
        left -= part
    await session.flush()
    return amount - left


async def release_overpaid(session: AsyncSession, *, actor: Actor, invoice: Invoice) -> int:
    """After a credit note: an invoice now paid beyond what it asks gives the excess back
    to its payments, where it becomes the patient's credit (to refund or to use on the
    next invoice). The invoice is locked by the caller; its payments are locked here."""
    excess = -invoice.amount_due
    if excess <= 0:
        return 0
    live = await live_allocations(session, invoice_id=invoice.id)
    payments = await lock_payments(session, [p for p, _, _ in live])
    return await release(
        session,
        actor=actor,
        payments=payments,
        invoices={invoice.id: invoice},
        live=live,
        amount=excess,
        kind=AllocationKind.CREDITED,
    )


async def credit_payments(session: AsyncSession, patient_id: uuid.UUID) -> list[uuid.UUID]:
    """The patient's payments holding credit, oldest first (credit is used in the order
    it was received)."""
    found = await session.scalars(
        select(Payment.id)
        .where(
            Payment.patient_id == patient_id,
            Payment.status == PaymentStatus.RECORDED,
            Payment.amount - Payment.allocated - Payment.refunded > 0,
        )
        .order_by(Payment.received_at, Payment.id)
    )
    return list(found)
