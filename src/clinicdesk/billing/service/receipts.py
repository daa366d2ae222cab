"""The receipt of a payment: ``documents.ReceiptView`` filled from the real payment (what
it paid on which invoice, what is kept as credit, the patient's balance), and its PDF.

Rules:
* Reading a receipt is reading the patient's data: ``payments.get_payment`` records it.
* The allocations shown are the net of the payment's entries per invoice (a refund or a
  void releases them), so a receipt printed later tells what stands now; a voided
  payment's receipt says it was voided, and each refund is listed with its reason.
* The balance is the balance service's (``credit.balance``) at the moment of printing,
  and the receipt says on which day it stood so.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.kernel.document_words import method_words
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_models import Payment
from clinicdesk.billing.service import credit, documents, payments
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.documents import ReceiptAllocation, ReceiptView
from clinicdesk.billing.vocabulary import PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients


def receipt_number(payment: Payment) -> str:
    """Payments have no number series of their own: the receipt is named by its day and
    the payment's id (``R-20261205-3F2A9C1B``), unique and readable over the phone."""
    return f"R-{payment.business_date:%Y%m%d}-{payment.id.hex[:8].upper()}"


async def receipt_view(
    session: AsyncSession, payment_id: uuid.UUID, *, actor: Actor
) -> ReceiptView:
    found = await payments.get_payment(session, payment_id, actor=actor)
    payment = found.payment
    patient = await patients.get_patient(
        session, payment.patient_id, actor=actor, follow_merge=False
    )
    net: dict[uuid.UUID, int] = {}
    for entry in found.allocations:
        net[entry.invoice_id] = net.get(entry.invoice_id, 0) + entry.amount
    numbers = dict(
        (
            await session.execute(
                select(Invoice.id, Invoice.number).where(Invoice.id.in_(list(net)))
            )
        ).all()
    )
    allocations = tuple(
        ReceiptAllocation(invoice_number=numbers.get(i) or "—", amount=amount)
        for i, amount in net.items()
        if amount > 0
    )
    balance = await credit.balance(session, actor=actor, patient_id=patient.id)
    names = await identity.names_of(
        session, {payment.taken_by_id} if payment.taken_by_id else set()
    )
    head = await documents.letterhead(session, location_id=payment.location_id)
    today = (await books(session)).today()
    words = head.words  # the receipt speaks the organization's language
    notes = []
    if payment.reference:
        notes.append(words["payment_reference"].format(reference=payment.reference))
    if payment.status == PaymentStatus.VOIDED:
        notes.append(words["payment_voided"].format(reason=payment.void_reason))
    for made in found.refunds:
        notes.append(
            words["payment_refunded"].format(
                amount=head.money(made.amount, made.currency),
                day=head.printed_day(made.business_date),
                reason=made.reason,
            )
        )
    return ReceiptView(
        reference=receipt_number(payment),
        received_at=payment.received_at,
        patient_name=patient.full_name,
        patient_mrn=patient.mrn,
        method=method_words(payment.method, words),
        amount=payment.amount,
        currency=payment.currency,
        allocations=allocations,
        credit_left=payment.unallocated,
        balance_after=balance.balance,
        balance_on=None if today == payment.business_date else today,
        taken_by=names.get(payment.taken_by_id) if payment.taken_by_id else None,
        location_id=payment.location_id,
        note="\n".join(notes) or None,
    )


async def receipt_pdf(
    session: AsyncSession, payment_id: uuid.UUID, *, actor: Actor
) -> tuple[bytes, str]:
    """The receipt as printed and its file name; the read is recorded."""
    view = await receipt_view(session, payment_id, actor=actor)
    return await documents.receipt_pdf(session, view), f"receipt-{view.reference}.pdf"
