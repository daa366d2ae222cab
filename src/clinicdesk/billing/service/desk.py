"""What the billing pages read, each in one call: an invoice with everything its page
shows (the patient, credit notes, the fee items a draft may add), a page of the invoice
list with the patients' names, a patient's invoices, and the fee schedule page.

Reads only; every read of a patient's data is recorded by the use cases it calls
(``invoices.get_invoice``, ``invoices.list_invoices``, ``issuing.credit_notes_of``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.kernel.money import half_up
from clinicdesk.billing.models import FeeItem, Invoice, InvoiceLine
from clinicdesk.billing.payment_schemas import BalanceRead
from clinicdesk.billing.service import checkout, credit, fee_schedule, invoices, issuing
from clinicdesk.billing.service.checkout import PaymentLine
from clinicdesk.billing.service.common import books
from clinicdesk.billing.service.issuing import CreditNoteWithLines
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.patients import public as patients
from clinicdesk.scheduling import public as scheduling


@dataclass(frozen=True, slots=True)
class InvoiceDesk:
    """An invoice as its page (or the visit's checkout panel) shows it."""

    invoice: Invoice
    lines: Sequence[InvoiceLine]
    patient: patients.Patient
    credit_notes: Sequence[CreditNoteWithLines]
    fee_items: Sequence[FeeItem]  # what a draft may add today (empty once issued)
    today: date
    payments: Sequence[PaymentLine] = ()  # newest first, voided ones too
    credit_available: int = 0  # the patient's credit, to use on what is due

    @property
    def is_draft(self) -> bool:
        return self.invoice.status == InvoiceStatus.DRAFT

    def taxes(self) -> list[tuple[str, int]]:
        """Tax per rate ("VAT 20%": amount), summed over the lines. A line with several
        rates carries one rounded tax figure; it is shared out by rate in proportion, the
        remainder to the last rate, so the figures add up to the invoice's tax total."""
        found: dict[str, int] = {}
        for line in self.lines:
            rates = [(f"{r['name']} {r['rate']}%", Decimal(str(r["rate"]))) for r in line.tax_rates]
            total_rate = sum((rate for _, rate in rates), Decimal(0))
            left = line.tax
            for index, (label, rate) in enumerate(rates):
                last = index == len(rates) - 1 or not total_rate
                share = left if last else half_up(Decimal(line.tax) * rate / total_rate)
                left -= share
                found[label] = found.get(label, 0) + share
        return sorted(found.items())


async def invoice_desk(
    session: AsyncSession, invoice_id: uuid.UUID, *, actor: Actor
) -> InvoiceDesk:
    found = await invoices.get_invoice(session, invoice_id, actor=actor)
    invoice = found.invoice
    patient = await patients.get_patient(
        session, invoice.patient_id, actor=actor, follow_merge=False
    )
    ledger = await books(session)
    draft = invoice.status == InvoiceStatus.DRAFT
    notes = [] if draft else await issuing.credit_notes_of(session, invoice.id, actor=actor)
    items = await fee_schedule.list_fee_items(session) if draft else []
    paid = [] if draft else await checkout.payments_of_invoice(session, invoice.id)
    held = 0 if draft else await checkout.credit_available(session, patient.id)
    return InvoiceDesk(invoice, found.lines, patient, notes, items, ledger.today(), paid, held)


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    invoice: Invoice
    patient: patients.Patient | None


async def invoice_page(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID | None,
    status: InvoiceStatus | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[InvoiceRow], str | None]:
    """A page of ``invoices.list_invoices`` with each invoice's patient."""
    found, next_cursor = await invoices.list_invoices(
        session,
        actor=actor,
        patient_id=patient_id,
        status=status,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    names = await patients.patients_by_id(session, {i.patient_id for i in found})
    return [InvoiceRow(i, names.get(i.patient_id)) for i in found], next_cursor


async def open_consultation_invoices(session: AsyncSession, patient_id: uuid.UUID) -> list[Invoice]:
    """The patient's invoices of consultations still to settle at the desk (a draft, or
    issued with something due), newest first: what the checkout panel shows. The caller
    has read the patient (and recorded the read)."""
    statement = (
        select(Invoice)
        .where(
            Invoice.patient_id == patient_id,
            Invoice.encounter_id.is_not(None),
            (Invoice.status == InvoiceStatus.DRAFT) | (Invoice.amount_due > 0),
        )
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(3)
    )
    return list((await session.scalars(statement)).all())


@dataclass(frozen=True, slots=True)
class FeeSchedulePage:
    items: Sequence[FeeItem]
    visit_types: dict[uuid.UUID, str]  # id -> name, for the link column and the picker
    currency: str
    today: date


async def fee_schedule_page(
    session: AsyncSession, *, on: date | None = None, code: str | None = None
) -> FeeSchedulePage:
    ledger = await books(session)
    items = await fee_schedule.list_fee_items(session, on=on, code=code)
    types = await scheduling.list_types(session, active_only=False)
    return FeeSchedulePage(items, {t.id: t.name for t in types}, ledger.currency, ledger.today())


async def fee_item_for(session: AsyncSession, typed: str) -> uuid.UUID:
    """The fee item in force today that the picker's text names: its code, or the
    option as shown ("CONS15 — Consultation · 60.00"), whose first word is the code."""
    code = typed.strip().split(" ")[0] if typed.strip() else ""
    if code:
        for item in await fee_schedule.list_fee_items(session):
            if item.code.lower() == code.lower():
                return item.id
    raise InvalidField(
        "item",
        f"No item of the fee schedule in force today has the code {code!r}; pick one from "
        "the list as you type, or add a free-text line.",
    )


@dataclass(frozen=True, slots=True)
class PatientInvoices:
    patient: patients.Patient
    checkouts: Sequence[InvoiceDesk]  # consultations still to settle: their panels
    latest: Sequence[Invoice]
    more: bool
    balance: BalanceRead | None = None


async def patient_invoices(
    session: AsyncSession, patient_id: uuid.UUID, *, actor: Actor, limit: int
) -> PatientInvoices:
    """The chart's invoices section: a checkout panel per consultation invoice still to
    settle (a draft, or something due), and the latest ``limit`` invoices."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    latest, next_cursor = await invoices.list_invoices(
        session, actor=actor, patient_id=patient.id, limit=limit, cursor=None
    )
    checkouts = [
        await invoice_desk(session, open_one.id, actor=actor)
        for open_one in await open_consultation_invoices(session, patient.id)
    ]
    balance = await credit.balance(session, actor=actor, patient_id=patient.id)
    return PatientInvoices(patient, checkouts, latest, next_cursor is not None, balance)


@dataclass(frozen=True, slots=True)
class ToCheckOut:
    invoice: Invoice
    patient: patients.Patient | None


async def to_check_out(session: AsyncSession, *, actor: Actor, limit: int) -> list[ToCheckOut]:
    """Today's consultation invoices still to settle at the desk (a draft, or issued
    with something due), newest first: the front desk's list of who is at checkout.
    The patients listed are recorded as read by ``actor``."""
    ledger = await books(session)
    start = datetime.combine(ledger.today(), time(0), ZoneInfo(ledger.time_zone))
    statement = (
        select(Invoice)
        .where(
            Invoice.encounter_id.is_not(None),
            Invoice.created_at >= start,
            (Invoice.status == InvoiceStatus.DRAFT) | (Invoice.amount_due > 0),
        )
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(limit)
    )
    found = list((await session.scalars(statement)).all())
    ids = {i.patient_id for i in found}
    await audit.record_list_read(session, actor=actor, patient_ids=list(ids), view="checkout")
    names = await patients.patients_by_id(session, ids)
    return [ToCheckOut(i, names.get(i.patient_id)) for i in found]
