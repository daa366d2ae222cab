"""Insurance claims: made from an issued invoice under one of the patient's policies,
submitted, accepted (with the approved amount) or rejected (with the reason), and paid
by remittances.

Rules held here, whoever calls (JSON API, pages, exports):
* Only an issued invoice is claimed, under a policy of the invoice's patient that is in
  force on the invoice's date (the primary one unless another is chosen).
* The invoice row is locked while a claim is made, so two desks claiming one invoice
  at once cannot together claim more than is due: the open (not rejected) claims of an
  invoice never ask for more than its ``amount_due``; one invoice has at most one open
  claim per policy.
* The status moves only along ``STEPS``; every step checks the claim's ``If-Match``
  version, and every change writes its audit entry in the same transaction.
* Remittances lock the claim and never pay (or adjust) more than is left of the approved
  amount (the claimed one before an approval).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.claim_models import Claim, ClaimItem, ClaimRemittance
from clinicdesk.billing.claim_schemas import (
    ClaimAccept,
    ClaimCreate,
    ClaimReject,
    RemittanceCreate,
)
from clinicdesk.billing.errors import (
    ClaimNotFound,
    ClaimRefused,
    ClaimStepRefused,
    RemittanceRefused,
)
from clinicdesk.billing.kernel.money import in_words, tax_part
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate
from clinicdesk.billing.service import payments
from clinicdesk.billing.service.common import audit_change, books, find_invoice, lines_of
from clinicdesk.billing.vocabulary import ClaimStatus, InvoiceStatus, PaymentMethod
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.patients import public as patients

S = ClaimStatus
# The allowed steps: a payer's answer (accept, reject) or money (a remittance) follows a
# submission; money may come without a separate acceptance. Rejected and paid are final
# (a corrected claim is a new one: a rejected claim leaves the invoice free to claim).
STEPS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.PARTIALLY_PAID, S.PAID}),
    S.ACCEPTED: frozenset({S.PARTIALLY_PAID, S.PAID}),
    S.PARTIALLY_PAID: frozenset({S.PARTIALLY_PAID, S.PAID}),
    S.REJECTED: frozenset(),
    S.PAID: frozenset(),
}
OPEN = (S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_PAID, S.PAID)
# Dates outside any claim's life are clamped, so an extreme filter date is no error.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 1, 1)


@dataclass(frozen=True, slots=True)
class ClaimDetail:
    claim: Claim
    items: Sequence[ClaimItem]
    remittances: Sequence[ClaimRemittance]
    payer_name: str
    invoice_number: str | None


def may_step(current: str, target: ClaimStatus) -> bool:
    return target in STEPS[ClaimStatus(current)]


def _refuse_step(claim: Claim, target: ClaimStatus, doing: str) -> None:
    if not may_step(claim.status, target):
        allowed = ", ".join(sorted(STEPS[ClaimStatus(claim.status)])) or "none (final)"
        raise ClaimStepRefused(
            f"A {claim.status} claim cannot be {doing}; from {claim.status} the next steps "
            f"are: {allowed}.",
            status=claim.status,
        )


def still_claimed(claim: Claim) -> int:
    """What an open claim still holds of its invoice's ``amount_due``: what it claims
    less what the payer paid (a remittance posts an insurance payment to the invoice,
    ``post_insurance_payment``, so the paid part has left ``amount_due`` already)."""
    return 0 if claim.status == S.REJECTED else max(claim.amount_claimed - claim.amount_paid, 0)


async def _audit_claim(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    claim: Claim,
    before: dict[str, object] | None,
    details: dict[str, Any] | None = None,
) -> None:
    await audit_change(
        session,
        actor=actor,
        action=action,
        resource_type="claim",
        record=claim,
        patient_id=claim.patient_id,
        before=before,
        details=details,
    )


async def find_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, for_update: bool = False
) -> Claim:
    claim = await session.get(
        Claim, claim_id, with_for_update=for_update, populate_existing=for_update
    )
    if claim is None:
        raise ClaimNotFound("No claim with this id.")
    return claim


async def _detail(session: AsyncSession, claim: Claim) -> ClaimDetail:
    items = await session.scalars(
        select(ClaimItem).where(ClaimItem.claim_id == claim.id).order_by(ClaimItem.sequence)
    )
    remittances = await session.scalars(
        select(ClaimRemittance)
        .where(ClaimRemittance.claim_id == claim.id)
        .order_by(ClaimRemittance.received_on, ClaimRemittance.created_at, ClaimRemittance.id)
    )
    coverage = await patients.coverage_of(
        session, patient_id=claim.patient_id, policy_id=claim.policy_id
    )
    invoice = await find_invoice(session, claim.invoice_id)
    return ClaimDetail(claim, list(items), list(remittances), coverage.payer_name, invoice.number)


async def _coverage_for(
    session: AsyncSession, invoice: Invoice, policy_id: uuid.UUID | None, day: date
) -> patients.Coverage:
    if policy_id is None:
        found = await patients.primary_coverage(session, patient_id=invoice.patient_id, on=day)
        if found is None:
            raise ClaimRefused(
                f"The patient has no primary insurance policy in force on {day.isoformat()} "
                "(the invoice's date); add one on the chart or choose a policy (policy_id)."
            )
        return found
    found = await patients.coverage_of(session, patient_id=invoice.patient_id, policy_id=policy_id)
    if not found.valid_on(day):
        raise ClaimRefused(
            f"This policy ({found.payer_name}) is not in force on {day.isoformat()}, the "
            "invoice's date; choose a policy valid then.",
            policy_id=str(policy_id),
        )
    return found


async def create_claim(session: AsyncSession, *, actor: Actor, data: ClaimCreate) -> ClaimDetail:
    """A draft claim of an issued invoice, its items copied from the invoice lines (less
    what credit notes took off them). The claimed amount defaults to what is left due on
    the invoice after its other open claims; the patient's share is the rest of that."""
    invoice = await find_invoice(session, data.invoice_id, for_update=True)
    await patients.get_patient(session, invoice.patient_id, actor=actor, follow_merge=False)
    if invoice.status != InvoiceStatus.ISSUED:
        raise ClaimRefused("Only an issued invoice can be claimed; issue the invoice first.")
    day = invoice.issue_date or (await books(session)).today()  # issued: it has its date
    coverage = await _coverage_for(session, invoice, data.policy_id, day)
    others = (
        await session.scalars(
            select(Claim).where(Claim.invoice_id == invoice.id, Claim.status.in_(OPEN))
        )
    ).all()
    if any(c.policy_id == coverage.policy_id for c in others):
        raise ClaimRefused(
            f"Invoice {invoice.number} already has an open claim under this policy "
            f"({coverage.payer_name}); a rejected claim leaves room for a new one."
        )
    left = invoice.amount_due - sum(still_claimed(c) for c in others)
    if left <= 0:
        raise ClaimRefused(
            f"Nothing is left to claim on invoice {invoice.number}: it is paid, credited "
            "or already claimed in full."
        )
    claimed = data.amount_claimed if data.amount_claimed is not None else left
    if claimed > left:
        raise ClaimRefused(
            f"At most {in_words(left, invoice.currency)} is left to claim on invoice "
            f"{invoice.number}; {in_words(claimed, invoice.currency)} was asked.",
            left=left,
        )
    claim = Claim(
        invoice_id=invoice.id,
        patient_id=invoice.patient_id,
        policy_id=coverage.policy_id,
        payer_id=coverage.payer_id,
        priority=coverage.priority,
        status=S.DRAFT,
        currency=invoice.currency,
        service_date=day,
        amount_claimed=claimed,
        patient_share=left - claimed,
        created_by_id=actor.user_id,
        notes=data.notes,
        eligibility_note=data.eligibility_note,
    )
    session.add(claim)
    await session.flush()
    sequence = 0
    for line in await lines_of(session, invoice.id):
        total = line.total - line.credited
        if total <= 0:
            continue
        tax = line.tax - tax_part(line.credited, line_total=line.total, line_tax=line.tax)
        sequence += 1
        session.add(
            ClaimItem(
                claim_id=claim.id,
                invoice_line_id=line.id,
                sequence=sequence,
                code=line.code,
                billing_code=line.billing_code,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                net=total - tax,
                tax=tax,
                total=total,
            )
        )
    await session.flush()
    await _audit_claim(
        session,
        actor=actor,
        action="claim.created",
        claim=claim,
        before=None,
        details={"invoice": invoice.number, "payer": coverage.payer_name},
    )
    return await _detail(session, claim)


async def _stepping(
    session: AsyncSession, claim_id: uuid.UUID, expected_version: int | None, actor: Actor
) -> Claim:
    claim = await find_claim(session, claim_id, for_update=True)
    await patients.get_patient(session, claim.patient_id, actor=actor, follow_merge=False)
    check_version(claim, expected_version)
    return claim


async def submit_claim(
    session: AsyncSession, *, actor: Actor, claim_id: uuid.UUID, expected_version: int | None
) -> ClaimDetail:
    """A draft goes to the payer: it is frozen from here on."""
    claim = await _stepping(session, claim_id, expected_version, actor)
    _refuse_step(claim, S.SUBMITTED, "submitted")
    before = audit.snapshot(claim)
    claim.status = S.SUBMITTED
    claim.submitted_at = utcnow()
    claim.submitted_by_id = actor.user_id
    await session.flush()
    await _audit_claim(session, actor=actor, action="claim.submitted", claim=claim, before=before)
    return await _detail(session, claim)


async def accept_claim(
    session: AsyncSession,
    *,
    actor: Actor,
    claim_id: uuid.UUID,
    data: ClaimAccept,
    expected_version: int | None,
) -> ClaimDetail:
    """The payer accepted the submitted claim for ``amount_approved`` (at most claimed)."""
    claim = await _stepping(session, claim_id, expected_version, actor)
    _refuse_step(claim, S.ACCEPTED, "accepted")
    if data.amount_approved > claim.amount_claimed:
        raise ClaimStepRefused(
            f"The approved amount ({in_words(data.amount_approved, claim.currency)}) is more "
            f"than was claimed ({in_words(claim.amount_claimed, claim.currency)}).",
            amount_claimed=claim.amount_claimed,
        )
    before = audit.snapshot(claim)
    claim.status = S.ACCEPTED
    claim.amount_approved = data.amount_approved
    claim.decided_at = utcnow()
    claim.payer_reference = data.payer_reference or claim.payer_reference
    await session.flush()
    await _audit_claim(session, actor=actor, action="claim.accepted", claim=claim, before=before)
    return await _detail(session, claim)


async def reject_claim(
    session: AsyncSession,
    *,
    actor: Actor,
    claim_id: uuid.UUID,
    data: ClaimReject,
    expected_version: int | None,
) -> ClaimDetail:
    """The payer refused the submitted claim; the reason is kept. The invoice is free to
    be claimed again (a corrected claim, or another policy)."""
    claim = await _stepping(session, claim_id, expected_version, actor)
    _refuse_step(claim, S.REJECTED, "rejected")
    before = audit.snapshot(claim)
    claim.status = S.REJECTED
    claim.rejection_reason = data.reason
    claim.decided_at = utcnow()
    claim.payer_reference = data.payer_reference or claim.payer_reference
    await session.flush()
    await _audit_claim(session, actor=actor, action="claim.rejected", claim=claim, before=before)
    return await _detail(session, claim)


def payable(claim: Claim) -> int:
    """What is left to pay or adjust: of the approved amount, or the claimed one."""
    target = claim.amount_approved if claim.amount_approved is not None else claim.amount_claimed
    return target - claim.amount_paid - claim.amount_adjusted


async def record_remittance(
    session: AsyncSession, *, actor: Actor, claim_id: uuid.UUID, data: RemittanceCreate
) -> ClaimDetail:
    """A payment (and adjustment) from the payer. The claim is locked, so two at once
    cannot overshoot together; it is paid when nothing is left, partially paid before."""
    claim = await find_claim(session, claim_id, for_update=True)
    await patients.get_patient(session, claim.patient_id, actor=actor, follow_merge=False)
    left = payable(claim)
    if not (may_step(claim.status, S.PAID) or may_step(claim.status, S.PARTIALLY_PAID)):
        raise ClaimStepRefused(
            f"A {claim.status} claim takes no remittance; only a submitted, accepted or "
            "partially paid claim is paid.",
            status=claim.status,
        )
    if data.amount + data.adjustment > left:
        raise RemittanceRefused(
            f"At most {in_words(left, claim.currency)} is left to pay or adjust on this "
            f"claim; {in_words(data.amount + data.adjustment, claim.currency)} was given.",
            left=left,
        )
    today = (await books(session)).today()
    received_on = data.received_on or today
    if received_on > today:
        raise InvalidField("received_on", "A remittance is recorded once received, not ahead.")
    remittance = ClaimRemittance(
        claim_id=claim.id,
        amount=data.amount,
        adjustment=data.adjustment,
        adjustment_reason=data.adjustment_reason,
        received_on=received_on,
        payer_reference=data.payer_reference,
        notes=data.notes,
        recorded_by_id=actor.user_id,
    )
    session.add(remittance)
    before = audit.snapshot(claim)
    claim.amount_paid += data.amount
    claim.amount_adjusted += data.adjustment
    claim.status = S.PAID if payable(claim) == 0 else S.PARTIALLY_PAID
    claim.payer_reference = claim.payer_reference or data.payer_reference
    await session.flush()
    await _audit_claim(
        session,
        actor=actor,
        action="claim.remittance_recorded",
        claim=claim,
        before=before,
        details={
            "remittance": str(remittance.id),
            "amount": data.amount,
            "adjustment": data.adjustment,
        },
    )
    await post_insurance_payment(session, actor=actor, claim=claim, remittance=remittance)
    return await _detail(session, claim)


async def post_insurance_payment(
    session: AsyncSession, *, actor: Actor, claim: Claim, remittance: ClaimRemittance
) -> None:
    """A remittance's ``amount`` becomes an "insurance" payment on the claim's invoice,
    in the remittance's transaction (audited by payments). What the invoice no longer
    owes (the patient paid meanwhile) stays as the patient's credit, to refund or use."""
    if remittance.amount <= 0:
        return
    invoice = await find_invoice(session, claim.invoice_id)
    to_invoice = min(remittance.amount, max(invoice.amount_due, 0))
    allocations = (
        [AllocationWanted(invoice_id=claim.invoice_id, amount=to_invoice)] if to_invoice else []
    )
    await payments.record_payment(
        session,
        actor=actor,
        data=PaymentCreate(
            patient_id=claim.patient_id,
            method=PaymentMethod.INSURANCE,
            amount=remittance.amount,
            location_id=invoice.location_id,
            reference=remittance.payer_reference or f"Claim {claim.id}",
            allocations=allocations,
        ),
    )


async def get_claim(session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor) -> ClaimDetail:
    """The claim with its items and remittances, for a patient open to ``actor`` (the
    read is recorded)."""
    claim = await find_claim(session, claim_id)
    await patients.get_patient(session, claim.patient_id, actor=actor, follow_merge=False)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=claim.patient_id,
        view="claim",
        resource_type="claim",
        resource_id=claim.id,
    )
    return await _detail(session, claim)


@dataclass(frozen=True, slots=True)
class ClaimFilters:
    """``date_from``/``date_to``: the claim's service date (its invoice's date)."""

    payer_id: uuid.UUID | None = None
    status: ClaimStatus | None = None
    patient_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    claim_id: uuid.UUID | None = None  # one claim's CSV, from its page


def filtered(filters: ClaimFilters) -> Any:
    statement = select(Claim).order_by(Claim.created_at.desc(), Claim.id.desc())
    for column, value in (
        (Claim.payer_id, filters.payer_id),
        (Claim.status, filters.status),
        (Claim.patient_id, filters.patient_id),
        (Claim.invoice_id, filters.invoice_id),
        (Claim.id, filters.claim_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.date_from is not None:
        statement = statement.where(Claim.service_date >= max(filters.date_from, EARLIEST))
    if filters.date_to is not None:
        statement = statement.where(Claim.service_date <= min(filters.date_to, LATEST))
    return statement


async def list_claims(
    session: AsyncSession, *, actor: Actor, filters: ClaimFilters, limit: int, cursor: str | None
) -> tuple[Sequence[Claim], str | None]:
    """Newest first; the patients named are recorded as a list read."""
    offset = decode_cursor(cursor)
    found = list((await session.scalars(filtered(filters).offset(offset).limit(limit + 1))).all())
    more = len(found) > limit
    found = found[:limit]
    await audit.record_list_read(
        session, actor=actor, patient_ids=[c.patient_id for c in found], view="claims"
    )
    return found, encode_cursor(offset + limit) if more else None
