"""Money at the desk, as the checkout panel and the invoice page take it: a payment for
one invoice (the rest kept as the patient's credit), the patient's credit used on it, a
refund or a void of one of its payments, and what the pages show of its payments.

Each use case is the payments service's own (``payments``, ``credit``, ``refunds``);
this adds what a form needs around it:

* **At most once per form.** Every form that creates money carries a key made when the
  form was rendered (``new_form_key``); the use case runs under ``run_once`` with it, so
  a double click, a retried post or a second tab sending the same form answers with the
  first payment instead of taking the money twice (``replayed`` says so). A refused
  attempt rolls its claim back with it, and the panel comes back with a new key.
* **A payment at the desk pays this invoice first**: what it owes at most; anything
  beyond is kept as the patient's credit (``credit_left``), to use on the next invoice
  or to refund.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.payment_models import Payment, PaymentAllocation, Refund
from clinicdesk.billing.payment_schemas import (
    AllocationWanted,
    PaymentCreate,
    PositiveAmount,
    RefundCreate,
)
from clinicdesk.billing.service import credit, payments, refunds
from clinicdesk.billing.service.common import find_invoice
from clinicdesk.billing.service.payments import NO_USER
from clinicdesk.billing.vocabulary import PaymentMethod, PaymentStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.idempotency import IdempotencyKeyReused, Outcome, run_once
from clinicdesk.core.schemas import SafeText, Strict
from clinicdesk.identity import public as identity

METHOD_WORDS = {
    PaymentMethod.CASH: "Cash",
    PaymentMethod.CARD: "Card",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
    PaymentMethod.INSURANCE: "Insurance",
    PaymentMethod.OTHER: "Other",
}
# What the desk takes by hand; insurance money comes with a claim's remittance.
DESK_METHODS = (
    PaymentMethod.CARD,
    PaymentMethod.CASH,
    PaymentMethod.BANK_TRANSFER,
    PaymentMethod.OTHER,
)


def method_word(method: str) -> str:
    try:
        return METHOD_WORDS[PaymentMethod(method)]
    except ValueError:
        return method


def new_form_key() -> str:
    """The key a money form carries (hidden), made when the form is rendered."""
    return secrets.token_urlsafe(24)


class DeskPayment(Strict):
    """The payment form: how, how much (minor units), and the card slip's or transfer's
    reference if any."""

    method: PaymentMethod
    amount: PositiveAmount
    reference: SafeText = Field(default=None, max_length=200)


async def _once(
    session: AsyncSession,
    *,
    actor: Actor,
    form_key: str,
    operation: str,
    body: dict[str, object],
    use_case: Callable[[], Awaitable[tuple[int, object]]],
) -> Outcome:
    try:
        return await run_once(
            session,
            key=form_key,
            user_id=actor.user_id or NO_USER,
            operation=operation,
            body=body,
            use_case=use_case,
        )
    except IdempotencyKeyReused:
        # A form sent again with other figures (typed over after the first send).
        raise IdempotencyKeyReused(
            "This form was already sent, with other figures; nothing more was done. The "
            "page now shows what was taken: fill in its form again for another one."
        ) from None


@dataclass(frozen=True, slots=True)
class Taken:
    """A payment taken at the desk: how much went to the invoice, how much is credit."""

    payment: Payment
    to_invoice: int
    credit_left: int
    replayed: bool


async def take_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    form: DeskPayment,
    form_key: str,
) -> Taken:
    """Money for an issued invoice: at most its ``amount_due`` pays it, the rest is the
    patient's credit. Once per ``form_key`` (see the module)."""
    invoice = await find_invoice(session, invoice_id)  # 404 before anything else
    # The invoice's due is read again under its lock by ``record_payment``; one that
    # changed meanwhile (another desk paid) refuses the allocation in words.
    data = PaymentCreate(
        patient_id=invoice.patient_id,
        method=form.method,
        amount=form.amount,
        location_id=invoice.location_id,  # the drawer it goes into at day close
        reference=form.reference,
        allocations=(
            [AllocationWanted(invoice_id=invoice.id, amount=min(form.amount, invoice.amount_due))]
            if invoice.amount_due > 0
            else []
        ),
    )

    async def use_case() -> tuple[int, object]:
        made = await payments.record_payment(session, actor=actor, data=data)
        return 201, {"payment_id": str(made.payment.id)}

    # The form as typed is the fingerprint (the allocation derives from what is due,
    # which the first send changed).
    outcome = await _once(
        session,
        actor=actor,
        form_key=form_key,
        operation=f"desk payment {invoice_id}",
        body=form.model_dump(mode="json"),
        use_case=use_case,
    )
    payment = await payments.find_payment(session, uuid.UUID(outcome.body["payment_id"]))
    to_invoice = await _allocated_to(session, payment.id, invoice.id)
    return Taken(payment, to_invoice, payment.unallocated, outcome.replayed)


async def use_credit(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID, form_key: str
) -> tuple[int, bool]:
    """The patient's credit on the invoice, as much as both allow, once per form:
    (what was applied, whether this was a repeat of the form)."""

    async def use_case() -> tuple[int, object]:
        _invoice, made = await credit.apply_credit(
            session, actor=actor, invoice_id=invoice_id, amount=None
        )
        return 201, {"applied": sum(a.amount for a in made)}

    outcome = await _once(
        session,
        actor=actor,
        form_key=form_key,
        operation=f"desk credit {invoice_id}",
        body={},
        use_case=use_case,
    )
    return int(outcome.body["applied"]), outcome.replayed


async def refund_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    payment_id: uuid.UUID,
    data: RefundCreate,
    form_key: str,
) -> tuple[int, bool]:
    """``refunds.refund`` once per form: (the amount refunded, whether a repeat)."""

    async def use_case() -> tuple[int, object]:
        made = await refunds.refund(session, actor=actor, payment_id=payment_id, data=data)
        return 201, {"amount": made.amount}

    outcome = await _once(
        session,
        actor=actor,
        form_key=form_key,
        operation=f"desk refund {payment_id}",
        body=data.model_dump(mode="json"),
        use_case=use_case,
    )
    return int(outcome.body["amount"]), outcome.replayed


async def _allocated_to(session: AsyncSession, payment_id: uuid.UUID, invoice_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.sum(PaymentAllocation.amount)).where(
            PaymentAllocation.payment_id == payment_id,
            PaymentAllocation.invoice_id == invoice_id,
        )
    )
    return int(total or 0)


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """A payment as an invoice's page lists it: what of it went to this invoice."""

    payment: Payment
    to_invoice: int  # net, after voids and refunds released it
    taken_by: str | None
    refunds: Sequence[Refund]

    @property
    def method(self) -> str:
        return method_word(self.payment.method)

    @property
    def voided(self) -> bool:
        return self.payment.status == PaymentStatus.VOIDED

    @property
    def refundable(self) -> int:
        return 0 if self.voided else self.payment.amount - self.payment.refunded

    @property
    def received_at(self) -> datetime:
        return self.payment.received_at


async def payments_of_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> list[PaymentLine]:
    """Every payment ever applied to the invoice (voided ones too: they stay on the
    record), newest first. The caller has read the invoice (and recorded the read)."""
    rows = (
        await session.execute(
            select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount))
            .where(PaymentAllocation.invoice_id == invoice_id)
            .group_by(PaymentAllocation.payment_id)
        )
    ).all()
    applied = {payment_id: int(amount) for payment_id, amount in rows}
    if not applied:
        return []
    found = list(
        await session.scalars(
            select(Payment)
            .where(Payment.id.in_(applied))
            .order_by(Payment.received_at.desc(), Payment.id.desc())
        )
    )
    given_back: dict[uuid.UUID, list[Refund]] = {}
    for made in await session.scalars(
        select(Refund).where(Refund.payment_id.in_(applied)).order_by(Refund.refunded_at)
    ):
        given_back.setdefault(made.payment_id, []).append(made)
    names = await identity.names_of(session, {p.taken_by_id for p in found if p.taken_by_id})
    return [
        PaymentLine(
            payment=p,
            to_invoice=applied[p.id],
            taken_by=names.get(p.taken_by_id) if p.taken_by_id else None,
            refunds=given_back.get(p.id, []),
        )
        for p in found
    ]


async def credit_available(session: AsyncSession, patient_id: uuid.UUID) -> int:
    """The patient's credit (payments neither allocated nor refunded), for the panel's
    "Use credit"; the caller has read the patient."""
    total = await session.scalar(
        select(func.sum(Payment.amount - Payment.allocated - Payment.refunded)).where(
            Payment.patient_id == patient_id, Payment.status == PaymentStatus.RECORDED
        )
    )
    return int(total or 0)
