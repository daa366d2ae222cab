"""Refunds: money given back of a payment, by the payment's own method, with a reason.

Rules:

* never more than the payment's amount not yet refunded, never of a voided payment;
* the refund takes first from the payment's unallocated part (the patient's credit);
  beyond that it releases the payment's allocations, the latest first, so those invoices
  are owed again. To give money back for something no longer billed, issue the credit
  note first: it turns the paid part into credit, and the refund then takes that;
* the refund belongs to today's business day at the payment's location (day close
  counts it there; ``day_guard.check_day_open`` is asked first);
* audited with the payment's change, in one transaction.

A card gateway's adapter (later) calls ``refund`` after the provider confirmed the
refund, under an ``Idempotency-Key`` of its own (the provider's refund id).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import RefundRefused
from clinicdesk.billing.kernel.money import in_words
from clinicdesk.billing.payment_models import Refund
from clinicdesk.billing.payment_schemas import RefundCreate
from clinicdesk.billing.service import ledger
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.day_guard import check_day_open
from clinicdesk.billing.service.payments import find_payment
from clinicdesk.billing.vocabulary import AllocationKind, PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.patients import public as patients


async def refund(
    session: AsyncSession, *, actor: Actor, payment_id: uuid.UUID, data: RefundCreate
) -> Refund:
    payment = await find_payment(session, payment_id)
    await patients.get_patient(session, payment.patient_id, actor=actor, follow_merge=False)
    # Lock order: the payment's invoices, then the payment (see ``ledger``); then read
    # its allocations again, and lock any invoice allocated in between.
    live = await ledger.live_allocations(session, payment_ids=[payment.id])
    invoices = await ledger.lock_invoices(session, [i for _, i, _ in live])
    payment = (await ledger.lock_payments(session, [payment.id]))[payment.id]
    live = await ledger.live_allocations(session, payment_ids=[payment.id])
    missing = {i for _, i, _ in live} - invoices.keys()
    if missing:
        invoices |= await ledger.lock_invoices(session, missing)
    if payment.status == PaymentStatus.VOIDED:
        raise RefundRefused("This payment was voided; nothing of it can be refunded.")
    left = payment.amount - payment.refunded
    if data.amount > left:
        raise RefundRefused(
            f"At most {in_words(left, payment.currency)} of this payment is left to refund; "
            f"{in_words(data.amount, payment.currency)} was asked.",
            left=left,
        )
    now = utcnow()
    today = (await books(session)).today(now)
    await check_day_open(
        session, business_date=today, location_id=payment.location_id, change="refund"
    )
    before = audit.snapshot(payment)
    beyond_credit = data.amount - payment.unallocated
    if beyond_credit > 0:
        await ledger.release(
            session,
            actor=actor,
            payments={payment.id: payment},
            invoices=invoices,
            live=live,
            amount=beyond_credit,
            kind=AllocationKind.REFUNDED,
        )
    made = Refund(
        payment_id=payment.id,
        patient_id=payment.patient_id,
        method=payment.method,
        amount=data.amount,
        currency=payment.currency,
        reason=data.reason,
        refunded_at=now,
        business_date=today,
        location_id=payment.location_id,
        refunded_by_id=actor.user_id,
    )
    session.add(made)
    payment.refunded += data.amount
    payment.updated_at = now
    await session.flush()
    await audit.record(
        session,
        action="payment.refunded",
        actor=actor,
        resource_type="payment",
        resource_id=payment.id,
        patient_id=payment.patient_id,
        changes=audit.changes(before, audit.snapshot(payment)),
        details={"refund_id": str(made.id), "amount": made.amount},
    )
    await audit.record(
        session,
        action="refund.issued",
        actor=actor,
        resource_type="refund",
        resource_id=made.id,
        patient_id=made.patient_id,
        changes=audit.changes(None, audit.snapshot(made)),
    )
    return made
