"""Invoices, credit notes and receipts as PDF: what each document shows, gathered once,
and rendered from the billing templates by the shared PDF stack (``core.pdf``).

Rules:
* A document speaks the organization's language (``kernel.document_words``: the words,
  and dates written the way that language writes them); money is printed in the
  organization's currency and locale with the currency's ISO 4217 digits
  (``kernel.formatting``). Only labels are translated: item names, reasons and the
  clinic's notes print as typed.
* A draft prints with a DRAFT mark and no number: it is not an invoice yet.
* Every value comes from a record and is escaped (the templates autoescape; nothing is
  marked safe), and a document fetches nothing (``core.pdf``).
* Reading a document is reading the patient's data: it is on the audit trail like any
  other read (``invoices.get_invoice``).

Receipts: payments are another use case; it hands over a ``ReceiptView`` (a plain value)
and gets the PDF back, so the receipt's look lives here with the other documents.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import CreditNoteNotFound
from clinicdesk.billing.kernel.document_words import (
    AGE_KEYS,
    Words,
    date_locale,
    document_date,
    document_moment,
    words_for,
)
from clinicdesk.billing.kernel.formatting import format_money, format_percent, format_quantity
from clinicdesk.billing.kernel.money import percent_of
from clinicdesk.billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from clinicdesk.billing.service.common import find_invoice, lines_of
from clinicdesk.billing.service.invoices import get_invoice
from clinicdesk.billing.service.statements import Statement, StatementLine, line_words
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.dates import format_local_date
from clinicdesk.core.pdf import html_to_pdf
from clinicdesk.core.templating import format_local_time
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Its own environment, not the pages' one: the e-mail job renders without a request.
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True, slots=True)
class Letterhead:
    """The clinic as a document shows it, and how it writes money and dates."""

    clinic: str
    place: str | None  # the location's name
    address: str | None
    phone: str | None
    currency: str
    locale: str
    date_format: str
    time_zone: str

    def money(self, amount: int, currency: str | None = None) -> str:
        return format_money(amount, currency or self.currency, self.locale)

    def day(self, value: date | None) -> str:
        return format_local_date(value, self.date_format) if value else "—"

    def moment(self, value: datetime | None) -> str:
        return format_local_time(value, self.time_zone, self.date_format)

    def quantity(self, value: Decimal) -> str:
        return format_quantity(value, self.locale)

    def percent(self, value: Decimal | str) -> str:
        # A line's tax rates are stored as decimal strings ("20").
        return format_percent(Decimal(str(value)), self.locale)

    # The pages (the portal's list) write dates in the organization's date format, in
    # English; the documents and their e-mail in the organization's language.
    @property
    def words(self) -> Words:
        return words_for(self.locale)

    @property
    def language_tag(self) -> str:
        """The document's ``lang`` (``de-AT``; ``en`` when the words fell back)."""
        return str(date_locale(self.locale)).replace("_", "-")

    def printed_day(self, value: date | None) -> str:
        return document_date(value, self.locale)

    def printed_moment(self, value: datetime | None) -> str:
        return document_moment(value, self.time_zone, self.locale)


async def letterhead(session: AsyncSession, *, location_id: uuid.UUID | None) -> Letterhead:
    organization = await identity.get_organization(session)
    location = await identity.get_location(session, location_id) if location_id else None
    return Letterhead(
        clinic=organization.name,
        place=location.name if location else None,
        address=(location.address or None) if location else None,
        phone=(location.phone or None) if location else None,
        currency=organization.currency.upper(),
        locale=organization.locale,
        date_format=organization.date_format,
        time_zone=(location.time_zone if location else None) or organization.time_zone,
    )


@dataclass(frozen=True, slots=True)
class Addressee:
    name: str
    mrn: str | None
    lines: tuple[str, ...]  # the postal address, line by line
    email: str | None


def addressee(patient: patients.Patient) -> Addressee:
    place = " ".join(p for p in (patient.postal_code, patient.city) if p)
    lines = (patient.address_line1, patient.address_line2, place or None, patient.region)
    return Addressee(
        name=patient.full_name,
        mrn=patient.mrn,
        lines=tuple(line for line in lines if line),
        email=patient.email,
    )


@dataclass(frozen=True, slots=True)
class TaxRow:
    """One tax rate of the summary: what it was charged on, and how much."""

    name: str
    rate: Decimal
    base: int
    tax: int


def tax_summary(lines: Sequence[InvoiceLine]) -> list[TaxRow]:
    """The invoice's taxes by name and rate. Each line's tax per rate is the kernel's
    (``percent_of`` of the line's net, rounded on the line), so the rows add up to the
    invoice's ``tax_total`` exactly."""
    rows: dict[tuple[str, Decimal], list[int]] = {}
    for line in lines:
        for rate in line.tax_rates:
            value = Decimal(str(rate["rate"]))
            key = (str(rate.get("name") or "Tax"), value)
            row = rows.setdefault(key, [0, 0])
            row[0] += line.net
            row[1] += max(0, percent_of(line.net, value))
    return [TaxRow(name, rate, base, tax) for (name, rate), (base, tax) in rows.items()]


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    head: Letterhead
    invoice: Invoice
    lines: Sequence[InvoiceLine]
    patient: Addressee
    taxes: Sequence[TaxRow]
    credit_notes: Sequence[CreditNote]

    @property
    def draft(self) -> bool:
        return self.invoice.status == InvoiceStatus.DRAFT


@dataclass(frozen=True, slots=True)
class CreditNoteDocument:
    head: Letterhead
    note: CreditNote
    lines: Sequence[CreditNoteLine]
    invoice: Invoice
    patient: Addressee


async def _credit_notes(session: AsyncSession, invoice_id: uuid.UUID) -> list[CreditNote]:
    found = await session.scalars(
        select(CreditNote)
        .where(CreditNote.invoice_id == invoice_id)
        .order_by(CreditNote.number_year, CreditNote.number_seq)
    )
    return list(found)


async def invoice_document(
    session: AsyncSession, invoice_id: uuid.UUID, *, actor: Actor
) -> InvoiceDocument:
    """The invoice as printed, for a patient open to ``actor`` (the read is recorded)."""
    found = await get_invoice(session, invoice_id, actor=actor)
    return await _invoice_document(session, found.invoice, found.lines, actor=actor)


async def _invoice_document(
    session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine], *, actor: Actor
) -> InvoiceDocument:
    patient = await patients.get_patient(
        session, invoice.patient_id, actor=actor, follow_merge=False
    )
    return InvoiceDocument(
        head=await letterhead(session, location_id=invoice.location_id),
        invoice=invoice,
        lines=lines,
        patient=addressee(patient),
        taxes=tax_summary(lines),
        credit_notes=await _credit_notes(session, invoice.id),
    )


async def issued_invoice_document(
    session: AsyncSession, invoice_id: uuid.UUID, *, actor: Actor
) -> InvoiceDocument:
    """For the job that e-mails it: no read entry (the request that queued it recorded
    the staff member's action)."""
    invoice = await find_invoice(session, invoice_id)
    return await _invoice_document(
        session, invoice, await lines_of(session, invoice.id), actor=actor
    )


async def credit_note_document(
    session: AsyncSession, credit_note_id: uuid.UUID, *, actor: Actor
) -> CreditNoteDocument:
    """The credit note as printed, with the invoice it corrects; the read is recorded."""
    note = await session.get(CreditNote, credit_note_id)
    if note is None:
        raise CreditNoteNotFound("No credit note with this id.")
    patient = await patients.get_patient(session, note.patient_id, actor=actor, follow_merge=False)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=note.patient_id,
        view="credit note",
        resource_type="credit_note",
        resource_id=note.id,
    )
    lines = await session.scalars(
        select(CreditNoteLine)
        .where(CreditNoteLine.credit_note_id == note.id)
        .order_by(CreditNoteLine.id)
    )
    invoice = await find_invoice(session, note.invoice_id)
    return CreditNoteDocument(
        head=await letterhead(session, location_id=invoice.location_id),
        note=note,
        lines=list(lines),
        invoice=invoice,
        patient=addressee(patient),
    )


@dataclass(frozen=True, slots=True)
class ReceiptAllocation:
    """The part of a payment that went to one invoice."""

    invoice_number: str
    amount: int


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """What a receipt shows of one payment (amounts in minor units of ``currency``)."""

    reference: str  # the receipt's or payment's number
    received_at: datetime
    patient_name: str
    patient_mrn: str | None
    method: str  # as a person reads it, in the document's language: "Card", "Tarjeta"...
    amount: int
    currency: str
    allocations: tuple[ReceiptAllocation, ...] = ()
    credit_left: int = 0  # what was not allocated, kept as the patient's credit
    balance_after: int = 0  # what the patient still owes after this payment
    balance_on: date | None = None  # the day the balance was read, when printed later
    taken_by: str | None = None
    location_id: uuid.UUID | None = None
    note: str | None = None


def _render(template: str, head: Letterhead, **context: Any) -> str:
    money: Callable[..., str] = head.money
    return (
        _environment()
        .get_template(template)
        .render(
            head=head,
            w=head.words,
            money=money,
            day=head.printed_day,
            moment=head.printed_moment,
            **context,
        )
    )


def invoice_html(document: InvoiceDocument) -> str:
    return _render("billing/invoice_pdf.html", document.head, doc=document)


def credit_note_html(document: CreditNoteDocument) -> str:
    return _render("billing/credit_note_pdf.html", document.head, doc=document)


def receipt_html(receipt: ReceiptView, head: Letterhead) -> str:
    return _render("billing/receipt_pdf.html", head, receipt=receipt)


def statement_html(statement: Statement, head: Letterhead) -> str:
    """The statement on paper, in the organization's language (the page's tables, worded
    from ``head.words``; amounts in the organization's currency format)."""
    words = head.words

    def describe(line: StatementLine) -> str:
        return line_words(line, words)

    return _render(
        "billing/statement_pdf.html",
        head,
        statement=statement,
        buckets=statement.aging.as_tuple(),
        bucket_labels=[words[key] for key in AGE_KEYS],
        describe=describe,
        suffix="",  # the money carries its currency
    )


async def invoice_pdf(document: InvoiceDocument) -> bytes:
    return await html_to_pdf(invoice_html(document))


async def credit_note_pdf(document: CreditNoteDocument) -> bytes:
    return await html_to_pdf(credit_note_html(document))


async def receipt_pdf(session: AsyncSession, receipt: ReceiptView) -> bytes:
    """The receipt of one payment, on the clinic's letterhead (its location's, if any)."""
    head = await letterhead(session, location_id=receipt.location_id)
    return await html_to_pdf(receipt_html(receipt, head))


_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def _file_name(prefix: str, number: str) -> str:
    # A number's format is the clinic's own: keep only what is safe in a header.
    return prefix + "".join(c if c in _SAFE else "-" for c in number) + ".pdf"


def invoice_filename(invoice: Invoice) -> str:
    """A file name a person recognises (``invoice-INV-2026-000123.pdf``)."""
    return _file_name("invoice-", invoice.number or f"draft-{invoice.id.hex[:8]}")


def credit_note_filename(note: CreditNote) -> str:
    return _file_name("credit-note-", note.number)
