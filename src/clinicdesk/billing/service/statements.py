"""A patient's statement: what they were charged and credited, in date order, with the
running balance and their balance by age.

Movements: an issued invoice charges its total on its issue date; a credit note credits
its total on its issue date; payments credit and refunds charge on their own days
(``balance_seams.statement_movements``, empty until payments are wired). On one day,
invoices come first, then credit notes, payments and refunds, each in number order, so
a day's running balance reads as the desk would tell it.

A period (``date_from`` to ``as_of``, inclusive) starts from the opening balance: the
sum of every movement before it. Only the organization's currency is shown (the aging
report's rule).

A line's ``description`` is English (the page and the API); the PDF words it in the
organization's language from its parts (``line_words``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.kernel.document_words import Words, method_words
from clinicdesk.billing.models import CreditNote, Invoice
from clinicdesk.billing.service.aging import EARLIEST, LATEST, Buckets, patient_aging
from clinicdesk.billing.service.balance_seams import patient_credits, statement_movements
from clinicdesk.billing.service.common import books
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

Kind = Literal["invoice", "credit_note", "payment", "refund"]
_ORDER: dict[str, int] = {"invoice": 0, "credit_note": 1, "payment": 2, "refund": 3}


@dataclass(frozen=True, slots=True)
class StatementLine:
    day: date
    kind: Kind
    reference_id: uuid.UUID
    number: str
    description: str
    charge: int
    credit: int
    balance: int
    """The running balance after this line."""
    # The parts of ``description`` (English, for the page and the API), for the PDF to
    # word it in the organization's language (``line_words``).
    method: str = ""
    reason: str = ""
    corrects: str = ""  # a credit note's invoice number


@dataclass(frozen=True, slots=True)
class Statement:
    patient: patients.Patient
    clinic_name: str
    currency: str
    date_from: date | None
    as_of: date
    opening_balance: int
    lines: list[StatementLine]
    aging: Buckets
    credit: int
    """Unallocated payments (``balance_seams.patient_credits``)."""

    @property
    def closing_balance(self) -> int:
        return self.lines[-1].balance if self.lines else self.opening_balance

    @property
    def charges(self) -> int:
        return sum(line.charge for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credit for line in self.lines)


@dataclass(frozen=True, slots=True)
class _Movement:
    day: date
    kind: Kind
    reference_id: uuid.UUID
    number: str
    description: str
    charge: int
    credit: int
    method: str = ""
    reason: str = ""
    corrects: str = ""


def line_words(line: StatementLine, words: Words) -> str:
    """The line's description in the document's language (``kernel.document_words``):
    the kind of movement in words, the reason and numbers as recorded."""
    method = method_words(line.method, words)
    match line.kind:
        case "invoice":
            return words["line_invoice"]
        case "credit_note":
            return words["line_credit_note"].format(number=line.corrects, reason=line.reason)
        case "payment":
            return words["line_payment"].format(method=method)
        case "refund":
            return words["line_refund"].format(method=method, reason=line.reason)


async def _movements(
    session: AsyncSession, *, patient_id: uuid.UUID, until: date, currency: str
) -> list[_Movement]:
    found: list[_Movement] = []
    invoices = await session.execute(
        select(Invoice.id, Invoice.number, Invoice.issue_date, Invoice.total).where(
            Invoice.patient_id == patient_id,
            Invoice.status != InvoiceStatus.DRAFT,
            Invoice.issue_date <= until,
            Invoice.currency == currency,
        )
    )
    for invoice_id, number, issued, total in invoices:
        # Every invoice past draft has its issue date (``issuing.issue`` sets it).
        day = issued or until
        found.append(_Movement(day, "invoice", invoice_id, number or "", "Invoice", total, 0))
    notes = await session.execute(
        select(CreditNote.id, CreditNote.number, CreditNote.issue_date, CreditNote.total)
        .add_columns(CreditNote.reason, Invoice.number)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(
            CreditNote.patient_id == patient_id,
            CreditNote.issue_date <= until,
            CreditNote.currency == currency,
        )
    )
    for note_id, number, issued, total, reason, invoice_number in notes:
        text = f"Credit note for {invoice_number}: {reason}"
        found.append(
            _Movement(
                issued,
                "credit_note",
                note_id,
                number,
                text,
                0,
                total,
                reason=reason,
                corrects=invoice_number or "",
            )
        )
    for m in await statement_movements(session, patient_id=patient_id, until=until):
        charge, credit = (m.amount, 0) if m.kind == "refund" else (0, m.amount)
        found.append(
            _Movement(
                m.day,
                m.kind,
                m.reference_id,
                m.number,
                m.description,
                charge,
                credit,
                method=m.method,
                reason=m.reason,
            )
        )
    found.sort(key=lambda m: (m.day, _ORDER[m.kind], m.number, str(m.reference_id)))
    return found


async def patient_statement(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    date_from: date | None = None,
    as_of: date | None = None,
) -> Statement:
    """The statement of a patient open to ``actor`` (a restricted record needs its care
    team or a grant; the read is recorded). ``as_of`` defaults to the organization's
    today; without ``date_from`` it runs from the first invoice."""
    ledger = await books(session)
    patient = await patients.get_patient(session, patient_id, actor=actor)
    day = min(max(as_of or ledger.today(), EARLIEST), LATEST)
    start = min(max(date_from, EARLIEST), LATEST) if date_from is not None else None
    movements = await _movements(
        session, patient_id=patient.id, until=day, currency=ledger.currency
    )
    opening = sum(m.charge - m.credit for m in movements if start is not None and m.day < start)
    balance, lines = opening, []
    for m in movements:
        if start is not None and m.day < start:
            continue
        balance += m.charge - m.credit
        lines.append(
            StatementLine(
                m.day,
                m.kind,
                m.reference_id,
                m.number,
                m.description,
                m.charge,
                m.credit,
                balance,
                method=m.method,
                reason=m.reason,
                corrects=m.corrects,
            )
        )
    credit = (await patient_credits(session, [patient.id])).get(patient.id, 0)
    aging = await patient_aging(session, patient_id=patient.id, as_of=day, currency=ledger.currency)
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="billing statement")
    organization = await identity.get_organization(session)
    return Statement(
        patient=patient,
        clinic_name=organization.name,
        currency=ledger.currency,
        date_from=start,
        as_of=day,
        opening_balance=opening,
        lines=lines,
        aging=aging,
        credit=credit,
    )
