"""The patient's credit: the part of their payments (not voided) neither allocated nor
refunded. It is used on an invoice here, and read with the balance.

The balance of a patient is ``invoiced - credited - paid + refunded`` (issued invoices,
credit notes, payments not voided, refunds), which ``ledger``'s rules make equal to
``owed - credit_available`` at all times; both ways of computing it are returned, and the
tests hold them equal after random sequences of every money change.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import AllocationRefused
from clinicdesk.billing.kernel.money import in_words
from clinicdesk.billing.models import CreditNote, Invoice
from clinicdesk.billing.payment_models import Payment, PaymentAllocation, Refund
from clinicdesk.billing.payment_schemas import BalanceRead
from clinicdesk.billing.service import ledger
from clinicdesk.billing.service.common import books, find_invoice
from clinicdesk.billing.vocabulary import AllocationKind, InvoiceStatus, PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.patients import public as patients


async def apply_credit(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID, amount: int | None
) -> tuple[Invoice, list[PaymentAllocation]]:
    """Pay the invoice from the patient's credit, the oldest payments' first: ``amount``
    (refused past the credit or the invoice's ``amount_due``) or as much as both allow."""
    invoice = await find_invoice(session, invoice_id)
    await patients.get_patient(session, invoice.patient_id, actor=actor, follow_merge=False)
    invoice = (await ledger.lock_invoices(session, [invoice.id]))[invoice.id]
    ledger.check_payable(
        invoice, patient_id=invoice.patient_id, currency=invoice.currency, field="invoice_id"
    )
    payments = await ledger.lock_payments(
        session, await ledger.credit_payments(session, invoice.patient_id)
    )
    oldest_first = sorted(payments.values(), key=lambda p: (p.received_at, p.id))
    oldest_first = [p for p in oldest_first if p.unallocated > 0]  # re-read under lock
    available = sum(p.unallocated for p in oldest_first)
    if invoice.amount_due <= 0:
        raise AllocationRefused(f"Invoice {invoice.number} is paid; nothing is owed on it.")
    if available <= 0:
        raise AllocationRefused("The patient has no credit to apply.")
    wanted = min(available, invoice.amount_due) if amount is None else amount
    if wanted > available:
        raise AllocationRefused(
            f"The patient's credit is {in_words(available, invoice.currency)}; "
            f"{in_words(wanted, invoice.currency)} was asked.",
            credit_available=available,
        )
    made = []
    left = wanted
    for payment in oldest_first:
        if left <= 0:
            break
        part = min(payment.unallocated, left)
        made.append(
            await ledger.allocate(
                session,
                actor=actor,
                payment=payment,
                invoice=invoice,
                amount=part,
                kind=AllocationKind.CREDIT,
            )
        )
        left -= part
    await session.flush()  # the allocations' rows and entries (``ledger.allocate``)
    return invoice, made


async def _sum(session: AsyncSession, statement: object) -> int:
    return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


async def balance(session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID) -> BalanceRead:
    """The patient's balance and its parts (the read is recorded)."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    await audit.record_read(
        session, actor=actor, patient_id=patient.id, view="balance", resource_type="patient"
    )
    issued = (Invoice.patient_id == patient.id) & (Invoice.status == InvoiceStatus.ISSUED)
    live = (Payment.patient_id == patient.id) & (Payment.status == PaymentStatus.RECORDED)
    invoiced = await _sum(session, select(func.sum(Invoice.total)).where(issued))
    owed = await _sum(session, select(func.sum(Invoice.amount_due)).where(issued))
    credited = await _sum(
        session, select(func.sum(CreditNote.total)).where(CreditNote.patient_id == patient.id)
    )
    paid = await _sum(session, select(func.sum(Payment.amount)).where(live))
    credit_available = await _sum(
        session,
        select(func.sum(Payment.amount - Payment.allocated - Payment.refunded)).where(live),
    )
    refunded = await _sum(
        session, select(func.sum(Refund.amount)).where(Refund.patient_id == patient.id)
    )
    return BalanceRead(
        patient_id=patient.id,
        currency=(await books(session)).currency,
        invoiced=invoiced,
        credited=credited,
        paid=paid,
        refunded=refunded,
        balance=invoiced - credited - paid + refunded,
        owed=owed,
        credit_available=credit_available,
    )
