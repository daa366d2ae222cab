"""The two places where payments join outstanding balances (the aging report and the
statement read them; payments' own tables answer).

* ``patient_credits``: each patient's credit, money paid and not allocated to any
  invoice (an overpayment kept for the next invoice). The aging report shows it beside
  the invoices' balance; it never changes the buckets, which age invoices only.
* ``statement_movements``: a patient's payments (a credit on the statement) and refunds
  (a charge), each on the day it was taken or given, for the statement's running balance.

With both wired, a statement's closing balance equals the patient's aging balance less
their credit: invoices minus credit notes minus payments plus refunds (issue 16's
invariant).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.payment_models import Payment, Refund
from clinicdesk.billing.vocabulary import PaymentStatus

_METHOD_WORDS = {
    "cash": "Cash",
    "card": "Card",
    "bank_transfer": "Bank transfer",
    "insurance": "Insurance",
    "other": "Other",
}


@dataclass(frozen=True, slots=True)
class Movement:
    """A payment or refund on a statement: ``amount`` in minor units, positive."""

    kind: Literal["payment", "refund"]
    day: date
    reference_id: uuid.UUID
    number: str
    description: str
    amount: int
    # The parts of ``description``, for a document that words it in its own language.
    method: str = ""
    reason: str = ""


async def patient_credits(
    session: AsyncSession, patient_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Unallocated credit per patient (minor units, only patients who have some): what
    their recorded (not voided) payments hold beyond allocations and refunds."""
    if not patient_ids:
        return {}
    left = func.sum(Payment.amount - Payment.allocated - Payment.refunded)
    rows = await session.execute(
        select(Payment.patient_id, left)
        .where(Payment.patient_id.in_(patient_ids), Payment.status == PaymentStatus.RECORDED)
        .group_by(Payment.patient_id)
        .having(left > 0)
    )
    return {patient_id: int(amount) for patient_id, amount in rows.all()}


async def statement_movements(
    session: AsyncSession, *, patient_id: uuid.UUID, until: date
) -> list[Movement]:
    """The patient's payments and refunds taken on or before ``until`` (business dates;
    a voided payment was never money and is left out)."""
    payments = await session.scalars(
        select(Payment).where(
            Payment.patient_id == patient_id,
            Payment.status == PaymentStatus.RECORDED,
            Payment.business_date <= until,
        )
    )
    refunds = await session.scalars(
        select(Refund).where(Refund.patient_id == patient_id, Refund.business_date <= until)
    )
    moved = [
        Movement(
            kind="payment",
            day=p.business_date,
            reference_id=p.id,
            number=p.reference or "",
            description=f"Payment ({_METHOD_WORDS.get(p.method, p.method)})",
            amount=p.amount,
            method=p.method,
        )
        for p in payments
    ]
    moved += [
        Movement(
            kind="refund",
            day=r.business_date,
            reference_id=r.id,
            number="",
            description=f"Refund ({_METHOD_WORDS.get(r.method, r.method)}): {r.reason}",
            amount=r.amount,
            method=r.method,
            reason=r.reason,
        )
        for r in refunds
    ]
    return sorted(moved, key=lambda m: (m.day, m.kind, m.reference_id))
