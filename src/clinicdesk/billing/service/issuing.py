"""Issuing: a draft becomes an immutable invoice with a gapless number; credit notes
correct issued invoices, numbered in their own gapless series.

The number is taken inside the issuing transaction from the organization's counter for
the year (``core.counters``: a row locked for update on PostgreSQL, the writer's turn on
SQLite). A concurrent issue waits for that lock, so two issues never get one number; a
rolled-back issue rolls its increment back too, so the next one gets the same number and
the series has no gap. The year is the issue date's, in the organization's time zone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import CreditRefused, InvoiceLineNotFound, InvoiceStepRefused
from clinicdesk.billing.kernel.money import in_words, tax_part
from clinicdesk.billing.kernel.numbering import format_problem, render
from clinicdesk.billing.models import BillingSettings, CreditNote, CreditNoteLine
from clinicdesk.billing.schemas import CreditNoteCreate, NumberFormats, NumberFormatsRead
from clinicdesk.billing.service import ledger as payment_ledger
from clinicdesk.billing.service.common import (
    InvoiceWithLines,
    audit_invoice,
    books,
    editable_draft,
    find_invoice,
    lines_of,
    number_formats,
    recompute,
    saved_settings,
    settings_row,
)
from clinicdesk.billing.vocabulary import CREDIT_NOTE_COUNTER, INVOICE_COUNTER, InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.counters import next_value
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients import public as patients


async def issue(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID, expected_version: int | None
) -> InvoiceWithLines:
    """Number the draft and freeze it. Refused without lines (nothing to bill)."""
    invoice = await editable_draft(session, invoice_id, expected_version=expected_version)
    before = audit.snapshot(invoice)
    lines = await recompute(session, invoice)
    if not lines:
        raise InvoiceStepRefused("The invoice has no lines; add what is billed first.")
    ledger = await books(session)
    invoice_format, _ = await number_formats(session)
    now = utcnow()
    day = ledger.today(now)
    seq = await next_value(session, f"{INVOICE_COUNTER}:{day.year}")
    invoice.number = render(invoice_format, year=day.year, seq=seq)
    invoice.number_year, invoice.number_seq = day.year, seq
    invoice.status = InvoiceStatus.ISSUED
    invoice.issue_date, invoice.issued_at, invoice.issued_by_id = day, now, actor.user_id
    invoice.amount_due = invoice.total - invoice.credited_total - invoice.amount_paid
    await session.flush()
    await audit_invoice(
        session, actor=actor, action="invoice.issued", invoice=invoice, before=before
    )
    return InvoiceWithLines(invoice, lines)


@dataclass(frozen=True, slots=True)
class CreditNoteWithLines:
    note: CreditNote
    lines: Sequence[CreditNoteLine]


async def credit(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID, data: CreditNoteCreate
) -> CreditNoteWithLines:
    """A credit note of some lines and amounts (tax included) of an issued invoice, or of
    everything not yet credited. Never more than a line's total, counting earlier credit
    notes; the invoice is locked meanwhile, so two at once cannot overshoot together."""
    invoice = await find_invoice(session, invoice_id, for_update=True)
    if invoice.status != InvoiceStatus.ISSUED:
        raise CreditRefused(
            "Only an issued invoice can be credited; a draft is changed or its lines removed."
        )
    lines = {line.id: line for line in await lines_of(session, invoice.id)}
    wanted: list[tuple[uuid.UUID, int]]
    if data.lines:
        wanted = [(c.invoice_line_id, c.amount) for c in data.lines]
    else:
        wanted = [(i, line.total - line.credited) for i, line in lines.items()]
        wanted = [(i, amount) for i, amount in wanted if amount > 0]
    if not wanted:
        raise CreditRefused("Everything on this invoice is already credited.")
    ledger = await books(session)
    now = utcnow()
    day = ledger.today(now)
    note = CreditNote(
        invoice_id=invoice.id,
        patient_id=invoice.patient_id,
        currency=invoice.currency,
        number="",
        number_year=day.year,
        number_seq=0,
        issue_date=day,
        issued_at=now,
        issued_by_id=actor.user_id,
        reason=data.reason,
    )
    made: list[CreditNoteLine] = []
    for line_id, amount in wanted:
        line = lines.get(line_id)
        if line is None:
            raise InvoiceLineNotFound(f"Invoice {invoice.number} has no line {line_id}.")
        left = line.total - line.credited
        if amount > left:
            raise CreditRefused(
                f"{line.name}: at most {in_words(left, invoice.currency)} is left to credit "
                f"of its {in_words(line.total, invoice.currency)}; "
                f"{in_words(amount, invoice.currency)} was asked.",
                invoice_line_id=str(line.id),
                left=left,
            )
        tax = tax_part(amount, line_total=line.total, line_tax=line.tax)
        line.credited += amount
        made.append(CreditNoteLine(invoice_line_id=line.id, name=line.name, amount=amount, tax=tax))
    note.total = sum(m.amount for m in made)
    note.tax_total = sum(m.tax for m in made)
    _, note_format = await number_formats(session)
    seq = await next_value(session, f"{CREDIT_NOTE_COUNTER}:{day.year}")
    note.number_seq = seq
    note.number = render(note_format, year=day.year, seq=seq)
    session.add(note)
    await session.flush()
    for m in made:
        m.credit_note_id = note.id
        session.add(m)
    before = audit.snapshot(invoice)
    invoice.credited_total += note.total
    invoice.amount_due = invoice.total - invoice.credited_total - invoice.amount_paid
    await session.flush()
    await audit.record(
        session,
        action="credit_note.issued",
        actor=actor,
        resource_type="credit_note",
        resource_id=note.id,
        patient_id=note.patient_id,
        changes=audit.changes(None, audit.snapshot(note)),
        details={"invoice": invoice.number, "lines": [str(m.invoice_line_id) for m in made]},
    )
    await audit_invoice(
        session, actor=actor, action="invoice.credited", invoice=invoice, before=before
    )
    # A paid invoice credited: what it no longer asks goes back to the patient's credit.
    await payment_ledger.release_overpaid(session, actor=actor, invoice=invoice)
    return CreditNoteWithLines(note, made)


async def credit_notes_of(
    session: AsyncSession, invoice_id: uuid.UUID, *, actor: Actor
) -> list[CreditNoteWithLines]:
    invoice = await find_invoice(session, invoice_id)
    await patients.get_patient(session, invoice.patient_id, actor=actor, follow_merge=False)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=invoice.patient_id,
        view="credit notes",
        resource_type="invoice",
        resource_id=invoice.id,
    )
    notes = list(
        await session.scalars(
            select(CreditNote)
            .where(CreditNote.invoice_id == invoice.id)
            .order_by(CreditNote.number_year, CreditNote.number_seq)
        )
    )
    found = []
    for note in notes:
        lines = await session.scalars(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note.id)
            .order_by(CreditNoteLine.id)
        )
        found.append(CreditNoteWithLines(note, list(lines)))
    return found


async def read_number_formats(session: AsyncSession) -> NumberFormatsRead:
    """The formats in use; version 0 until they were first changed."""
    found = await saved_settings(session)
    if found is None:
        invoice_format, note_format = await number_formats(session)
        return NumberFormatsRead(
            invoice_number_format=invoice_format, credit_note_number_format=note_format, version=0
        )
    return NumberFormatsRead.model_validate(found)


async def set_number_formats(
    session: AsyncSession, *, actor: Actor, data: NumberFormats, expected_version: int | None
) -> BillingSettings:
    """New formats apply to the next numbers; issued numbers keep theirs. The sequence
    goes on (a format change never restarts it)."""
    for field in ("invoice_number_format", "credit_note_number_format"):
        problem = format_problem(getattr(data, field))
        if problem:
            raise InvalidField(field, problem)
    saved = await saved_settings(session)
    if saved is None and expected_version not in (None, 0):
        check_version(await settings_row(session), expected_version)
    settings = await settings_row(session)
    if saved is not None:
        check_version(settings, expected_version)
    before = audit.snapshot(settings)
    settings.invoice_number_format = data.invoice_number_format
    settings.credit_note_number_format = data.credit_note_number_format
    await session.flush()
    await audit.record(
        session,
        action="billing_settings.changed",
        actor=actor,
        resource_type="billing_settings",
        resource_id=settings.id,
        changes=audit.changes(before, audit.snapshot(settings)),
    )
    return settings
