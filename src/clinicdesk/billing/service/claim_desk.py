"""What the claims pages read, each in one call: a page of the claim list (filters, a
search by invoice number or patient, the totals of what the filters find), one claim
with everything its page shows (patient, policy, history, the steps open to it), and an
invoice's claims with the policies it may still be claimed under. Plus the remittance
form's stale-form check (the API guards a remittance with ``Idempotency-Key``; a form
carries the claim's version instead, so a second click of one form records nothing).

The rules stay in ``claims``; these read and assemble. Reads of patient data are
recorded by the use cases called (``claims.get_claim``) or here for the list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.claim_models import Claim
from clinicdesk.billing.claim_schemas import RemittanceCreate
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.service import claims
from clinicdesk.billing.service.claim_exports import member_number_shown
from clinicdesk.billing.service.claims import ClaimDetail, ClaimFilters
from clinicdesk.billing.service.common import books, find_invoice
from clinicdesk.billing.vocabulary import ClaimStatus, InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

S = ClaimStatus
STATUS_WORDS = {
    S.DRAFT: "Draft",
    S.SUBMITTED: "Submitted",
    S.ACCEPTED: "Accepted",
    S.REJECTED: "Rejected",
    S.PARTIALLY_PAID: "Partially paid",
    S.PAID: "Paid",
}
ACTION_WORDS = {
    "claim.created": "Drafted",
    "claim.submitted": "Submitted to the payer",
    "claim.accepted": "Accepted by the payer",
    "claim.rejected": "Rejected by the payer",
    "claim.remittance_recorded": "Remittance recorded",
}
SEARCH_PATIENTS = 20  # a name typed in the search box names at most this many patients


# --- the list -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimRow:
    claim: Claim
    patient: patients.Patient | None
    payer_name: str
    invoice_number: str | None

    @property
    def status_word(self) -> str:
        return STATUS_WORDS[ClaimStatus(self.claim.status)]


@dataclass(frozen=True, slots=True)
class ClaimTotals:
    """What the filters find (every page of it), in one currency."""

    currency: str
    count: int
    claimed: int
    approved: int
    paid: int


@dataclass(frozen=True, slots=True)
class ClaimListPage:
    rows: list[ClaimRow]
    next_cursor: str | None
    totals: list[ClaimTotals]
    payers: list[tuple[uuid.UUID, str]]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def claim_list_page(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: ClaimFilters,
    search: str,
    limit: int,
    cursor: str | None,
) -> ClaimListPage:
    """Newest first, as ``claims.list_claims``; ``search`` keeps the claims whose invoice
    number contains it or whose patient it finds (the patient search's first matches).
    The totals are of every claim the filters find, not only this page's."""
    statement = claims.filtered(filters)
    text = search.strip()
    if text:
        found = await patients.search_patients(
            session, actor=actor, text=text, limit=SEARCH_PATIENTS, view="claim search"
        )
        numbers = select(Invoice.id).where(Invoice.number.ilike(_like(text), escape="\\"))
        statement = statement.where(
            or_(
                Claim.invoice_id.in_(numbers),
                Claim.patient_id.in_([hit.patient.id for hit in found.hits]),
            )
        )
    offset = decode_cursor(cursor)
    shown = list((await session.scalars(statement.offset(offset).limit(limit + 1))).all())
    more = len(shown) > limit
    shown = shown[:limit]
    await audit.record_list_read(
        session, actor=actor, patient_ids=[c.patient_id for c in shown], view="claims"
    )
    people = await patients.patients_by_id(session, {c.patient_id for c in shown})
    payers = await patients.payer_names(session)
    names = dict(payers)
    numbers_of = await _invoice_numbers(session, {c.invoice_id for c in shown})
    rows = [
        ClaimRow(
            c, people.get(c.patient_id), names.get(c.payer_id, ""), numbers_of.get(c.invoice_id)
        )
        for c in shown
    ]
    summed = select(
        Claim.currency,
        func.count(),
        func.coalesce(func.sum(Claim.amount_claimed), 0),
        func.coalesce(func.sum(Claim.amount_approved), 0),
        func.coalesce(func.sum(Claim.amount_paid), 0),
    )
    if statement.whereclause is not None:
        summed = summed.where(statement.whereclause)
    sums = await session.execute(summed.group_by(Claim.currency).order_by(Claim.currency))
    totals = [ClaimTotals(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0), int(r[4])) for r in sums]
    return ClaimListPage(rows, encode_cursor(offset + limit) if more else None, totals, payers)


async def _invoice_numbers(
    session: AsyncSession, invoice_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoice_ids))
    )
    return {row.id: row.number for row in rows}


# --- one claim ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    what: str
    who: str
    status: str | None  # where a remittance left the claim (the other steps name theirs)
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClaimPage:
    """A claim as its page shows it; ``can_*`` are the steps its status allows."""

    detail: ClaimDetail
    invoice: Invoice
    patient: patients.Patient
    coverage: patients.Coverage
    member_number: str | None  # in clear for those who may change policies, else masked
    member_number_clear: bool
    history: list[HistoryEntry]
    left_to_pay: int
    today: date

    @property
    def claim(self) -> Claim:
        return self.detail.claim

    @property
    def can_submit(self) -> bool:
        return claims.may_step(self.claim.status, S.SUBMITTED)

    @property
    def can_decide(self) -> bool:
        return claims.may_step(self.claim.status, S.ACCEPTED)

    @property
    def can_remit(self) -> bool:
        return self.left_to_pay > 0 and (
            claims.may_step(self.claim.status, S.PAID)
            or claims.may_step(self.claim.status, S.PARTIALLY_PAID)
        )


async def claim_page(session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor) -> ClaimPage:
    """The claim (its read recorded by ``claims.get_claim``) with its patient, policy,
    invoice and history. The member number is shown in clear exactly when the FHIR
    export writes it in clear (``may_see_member_number``), and that reveal is recorded
    the same way; anyone else sees it masked."""
    detail = await claims.get_claim(session, claim_id, actor=actor)
    claim = detail.claim
    patient = await patients.get_patient(session, claim.patient_id, actor=actor, follow_merge=False)
    coverage = await patients.coverage_of(
        session, patient_id=claim.patient_id, policy_id=claim.policy_id
    )
    clear = await member_number_shown(
        session, actor=actor, claim=claim, coverage=coverage, where="claim page"
    )
    invoice = await find_invoice(session, claim.invoice_id)
    return ClaimPage(
        detail=detail,
        invoice=invoice,
        patient=patient,
        coverage=coverage,
        member_number=coverage.member_number if clear else coverage.member_number_masked,
        member_number_clear=clear,
        history=await _history(session, claim),
        left_to_pay=claims.payable(claim),
        today=(await books(session)).today(),
    )


async def _history(session: AsyncSession, claim: Claim) -> list[HistoryEntry]:
    """The claim's steps, oldest first, from the audit trail (the trail is the history:
    nothing keeps a second copy)."""
    events = await audit.resource_trail(
        session, resource_type="claim", resource_id=claim.id, actions=list(ACTION_WORDS)
    )
    names = await identity.names_of(session, {e.actor_user_id for e in events if e.actor_user_id})
    entries = []
    for event in events:
        change = (event.changes or {}).get("status")
        moved = change.get("after") if isinstance(change, dict) else None
        if event.action != "claim.remittance_recorded":
            moved = None
        who = names.get(event.actor_user_id, "Former user") if event.actor_user_id else "System"
        entries.append(
            HistoryEntry(
                at=event.occurred_at,
                what=ACTION_WORDS[event.action],
                who=who,
                status=str(moved) if moved else None,
                details=dict(event.details or {}),
            )
        )
    return entries


async def record_remittance_checked(
    session: AsyncSession,
    *,
    actor: Actor,
    claim_id: uuid.UUID,
    data: RemittanceCreate,
    expected_version: int,
) -> ClaimDetail:
    """``claims.record_remittance`` for a form built from ``expected_version`` of the
    claim: the claim is locked and its version checked first, so a form sent twice (or
    after someone else's remittance) is refused instead of paying twice."""
    claim = await claims.find_claim(session, claim_id, for_update=True)
    check_version(claim, expected_version)
    return await claims.record_remittance(session, actor=actor, claim_id=claim.id, data=data)


# --- an invoice's claims ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceClaims:
    """The claims of one invoice (newest first) and, for an issued invoice with
    something left to claim, the policies in force on its date without an open claim."""

    rows: list[ClaimRow]
    policies: list[patients.Coverage]
    left: int  # what is left to claim: what is due less what open claims still hold

    @property
    def may_claim(self) -> bool:
        return bool(self.policies) and self.left > 0


async def invoice_claims(session: AsyncSession, invoice: Invoice) -> InvoiceClaims:
    """The caller has read the invoice and its patient (and recorded the read)."""
    if invoice.status != InvoiceStatus.ISSUED:
        return InvoiceClaims([], [], 0)
    found = list(
        (await session.scalars(claims.filtered(ClaimFilters(invoice_id=invoice.id)))).all()
    )
    names = dict(await patients.payer_names(session))
    rows = [ClaimRow(c, None, names.get(c.payer_id, ""), invoice.number) for c in found]
    open_claims = [c for c in found if c.status in claims.OPEN]
    taken = {c.policy_id for c in open_claims}
    day = invoice.issue_date or (await books(session)).today()
    policies = [
        p
        for p in await patients.coverages_of_patient(session, patient_id=invoice.patient_id)
        if p.valid_on(day) and p.policy_id not in taken
    ]
    left = invoice.amount_due - sum(claims.still_claimed(c) for c in open_claims)
    return InvoiceClaims(rows, policies, max(left, 0))
