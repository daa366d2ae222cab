"""Invoices while they are drafts: make one (by hand, or drafted from a finished
consultation by ``drafting``), add, change and remove lines, set the invoice's discount
and notes; read one or a list.

A draft is editable; every change recomputes its figures (``common.recompute``) and is
audited in the same transaction. An issued invoice is refused here (``InvoiceIssued``).
Every read names a patient, so it is recorded as a read of that patient's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import BadAmount, InvoiceLineNotFound, InvoiceStepRefused
from clinicdesk.billing.kernel.money import in_words
from clinicdesk.billing.models import FeeItem, Invoice, InvoiceLine
from clinicdesk.billing.schemas import (
    InvoiceCreate,
    InvoiceDiscount,
    InvoiceUpdate,
    LineAdd,
    LineChange,
)
from clinicdesk.billing.service.common import (
    InvoiceWithLines,
    audit_invoice,
    books,
    editable_draft,
    find_invoice,
    lines_of,
    recompute,
)
from clinicdesk.billing.service.fee_schedule import get_fee_item
from clinicdesk.billing.vocabulary import InvoiceStatus, LineSource
from clinicdesk.clinical import public as clinical
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

EARLIEST, LATEST = date(1900, 1, 1), date(9000, 1, 1)


def _check_fee_item_on(item: FeeItem, day: date, currency: str) -> None:
    if not (item.active_from <= day and (item.active_to is None or item.active_to >= day)):
        raise InvoiceStepRefused(
            f"{item.name} ({item.code}) has no price in force on {day.isoformat()}; pick the "
            "version of the fee schedule that is, or bill it as free text."
        )
    if item.currency != currency:
        raise InvoiceStepRefused(
            f"{item.name} is priced in {item.currency}, the invoice is in {currency}."
        )


async def _new_line(
    session: AsyncSession,
    invoice: Invoice,
    data: LineAdd,
    *,
    position: int,
    day: date,
    source: LineSource = LineSource.MANUAL,
    order_id: uuid.UUID | None = None,
) -> InvoiceLine:
    line = InvoiceLine(
        invoice_id=invoice.id,
        position=position,
        source=source,
        order_id=order_id,
        quantity=data.quantity,
        discount_percent=data.discount_percent,
        discount_amount=data.discount_amount,
        discount_reason=data.discount_reason,
    )
    if data.fee_item_id is not None:
        item = await get_fee_item(session, data.fee_item_id)
        _check_fee_item_on(item, day, invoice.currency)
        # Copied, so a later price version never changes this line.
        line.fee_item_id, line.code, line.billing_code = item.id, item.code, item.billing_code
        line.name, line.unit_price, line.tax_rates = item.name, item.unit_price, item.tax_rates
    else:
        line.name, line.code = data.name or "", data.code
        line.unit_price = data.unit_price or 0
        line.tax_rates = [{"name": r.name, "rate": str(r.rate)} for r in data.tax_rates or []]
    session.add(line)
    return line


async def _next_position(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    last = await session.scalar(
        select(func.max(InvoiceLine.position)).where(InvoiceLine.invoice_id == invoice_id)
    )
    return (last or 0) + 1


async def new_draft(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    encounter_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    notes: str | None = None,
) -> Invoice:
    ledger = await books(session)
    if location_id is not None:
        await identity.get_location(session, location_id)
    invoice = Invoice(
        patient_id=patient_id,
        encounter_id=encounter_id,
        location_id=location_id,
        status=InvoiceStatus.DRAFT,
        currency=ledger.currency,
        notes=notes,
        created_by_id=actor.user_id,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def create_draft(
    session: AsyncSession, *, actor: Actor, data: InvoiceCreate
) -> InvoiceWithLines:
    """A draft by hand, for a patient the actor may see, with any first lines."""
    patient = await patients.get_patient(session, data.patient_id, actor=actor)
    if data.encounter_id is not None:
        encounter = await clinical.find_encounter(session, data.encounter_id)
        if encounter.patient_id != patient.id:
            raise InvoiceStepRefused("This consultation is another patient's.")
    invoice = await new_draft(
        session,
        actor=actor,
        patient_id=patient.id,
        encounter_id=data.encounter_id,
        location_id=data.location_id,
        notes=data.notes,
    )
    day = (await books(session)).today()
    for position, line in enumerate(data.lines, start=1):
        await _new_line(session, invoice, line, position=position, day=day)
    await session.flush()
    lines = await recompute(session, invoice)
    await audit_invoice(
        session, actor=actor, action="invoice.drafted", invoice=invoice, before=None
    )
    return InvoiceWithLines(invoice, lines)


async def add_line(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID, data: LineAdd
) -> InvoiceWithLines:
    invoice = await editable_draft(session, invoice_id, expected_version=None)
    before = audit.snapshot(invoice)
    day = (await books(session)).today()
    line = await _new_line(
        session, invoice, data, position=await _next_position(session, invoice.id), day=day
    )
    await session.flush()
    lines = await recompute(session, invoice)
    await audit_invoice(
        session,
        actor=actor,
        action="invoice.line_added",
        invoice=invoice,
        before=before,
        details={"line_id": str(line.id), "name": line.name, "total": line.total},
    )
    return InvoiceWithLines(invoice, lines)


async def _line(session: AsyncSession, invoice: Invoice, line_id: uuid.UUID) -> InvoiceLine:
    line = await session.get(InvoiceLine, line_id)
    if line is None or line.invoice_id != invoice.id:
        raise InvoiceLineNotFound("This invoice has no line with this id.")
    return line


async def change_line(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    data: LineChange,
    expected_version: int | None,
) -> InvoiceWithLines:
    """Quantity and discount of any line; name, price and taxes of a free-text line."""
    invoice = await editable_draft(session, invoice_id, expected_version=expected_version)
    line = await _line(session, invoice, line_id)
    before_line = audit.snapshot(line)
    if line.fee_item_id is not None and (
        data.name is not None or data.unit_price is not None or data.tax_rates is not None
    ):
        raise InvoiceStepRefused(
            "A fee item's line keeps the fee schedule's name, price and taxes; change its "
            "quantity or discount, or remove it and add a free-text line."
        )
    line.quantity = data.quantity
    line.discount_percent = data.discount_percent
    line.discount_amount = data.discount_amount
    line.discount_reason = data.discount_reason
    if data.name is not None:
        line.name = data.name
    if data.unit_price is not None:
        line.unit_price = data.unit_price
    if data.tax_rates is not None:
        line.tax_rates = [{"name": r.name, "rate": str(r.rate)} for r in data.tax_rates]
    before = audit.snapshot(invoice)
    lines = await recompute(session, invoice)
    await audit_invoice(
        session,
        actor=actor,
        action="invoice.line_changed",
        invoice=invoice,
        before=before,
        details={
            "line_id": str(line.id),
            "line": audit.changes(before_line, audit.snapshot(line)),
        },
    )
    return InvoiceWithLines(invoice, lines)


async def remove_line(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    expected_version: int | None,
) -> InvoiceWithLines:
    invoice = await editable_draft(session, invoice_id, expected_version=expected_version)
    line = await _line(session, invoice, line_id)
    before = audit.snapshot(invoice)
    removed = {"line_id": str(line.id), "name": line.name, "total": line.total}
    await session.delete(line)
    await session.flush()
    lines = await recompute(session, invoice)
    await audit_invoice(
        session,
        actor=actor,
        action="invoice.line_removed",
        invoice=invoice,
        before=before,
        details=removed,
    )
    return InvoiceWithLines(invoice, lines)


async def set_discount(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    data: InvoiceDiscount,
    expected_version: int | None,
) -> InvoiceWithLines:
    """The invoice-level discount (percentage or amount, with its reason), spread over
    the lines before tax; an amount larger than the lines is refused."""
    invoice = await editable_draft(session, invoice_id, expected_version=expected_version)
    before = audit.snapshot(invoice)
    if data.discount_amount is not None:
        room = sum(line.gross - line.line_discount for line in await lines_of(session, invoice.id))
        if data.discount_amount > room:
            raise BadAmount(
                "discount_amount",
                f"The discount ({in_words(data.discount_amount, invoice.currency)}) is more "
                f"than the lines come to after their own discounts "
                f"({in_words(room, invoice.currency)}).",
            )
    invoice.discount_percent = data.discount_percent
    invoice.discount_amount = data.discount_amount
    invoice.discount_reason = data.discount_reason
    lines = await recompute(session, invoice)
    await audit_invoice(
        session, actor=actor, action="invoice.discounted", invoice=invoice, before=before
    )
    return InvoiceWithLines(invoice, lines)


async def update_draft(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    data: InvoiceUpdate,
    expected_version: int | None,
) -> InvoiceWithLines:
    invoice = await editable_draft(session, invoice_id, expected_version=expected_version)
    before = audit.snapshot(invoice)
    if data.location_id is not None:
        await identity.get_location(session, data.location_id)
    invoice.notes = data.notes
    invoice.location_id = data.location_id
    lines = await recompute(session, invoice)
    await audit_invoice(
        session, actor=actor, action="invoice.changed", invoice=invoice, before=before
    )
    return InvoiceWithLines(invoice, lines)


async def get_invoice(
    session: AsyncSession, invoice_id: uuid.UUID, *, actor: Actor
) -> InvoiceWithLines:
    """The invoice with its lines, for a patient open to ``actor`` (the read is recorded)."""
    invoice = await find_invoice(session, invoice_id)
    await patients.get_patient(session, invoice.patient_id, actor=actor, follow_merge=False)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=invoice.patient_id,
        view="invoice",
        resource_type="invoice",
        resource_id=invoice.id,
    )
    return InvoiceWithLines(invoice, await lines_of(session, invoice.id))


async def list_invoices(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Invoice], str | None]:
    """Newest first. ``date_from``/``date_to`` (inclusive, the organization's days) are
    the issue date of issued invoices and the day a draft was made."""
    offset = decode_cursor(cursor)
    statement = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc())
    if patient_id is not None:
        statement = statement.where(Invoice.patient_id == patient_id)
    if status is not None:
        statement = statement.where(Invoice.status == status)
    # Dates outside any invoice's life are clamped, so an extreme date is no error.
    date_from = max(date_from, EARLIEST) if date_from is not None else None
    date_to = min(date_to, LATEST) if date_to is not None else None
    if date_from is not None or date_to is not None:
        zone = ZoneInfo((await books(session)).time_zone)
        if date_from is not None:
            start = datetime.combine(date_from, time(0), zone)
            statement = statement.where(
                (Invoice.issue_date >= date_from)
                | (Invoice.issue_date.is_(None) & (Invoice.created_at >= start))
            )
        if date_to is not None:
            end = datetime.combine(date_to + timedelta(days=1), time(0), zone)
            statement = statement.where(
                (Invoice.issue_date <= date_to)
                | (Invoice.issue_date.is_(None) & (Invoice.created_at < end))
            )
    found = list((await session.scalars(statement.offset(offset).limit(limit + 1))).all())
    more = len(found) > limit
    found = found[:limit]
    await audit.record_list_read(
        session, actor=actor, patient_ids=[i.patient_id for i in found], view="invoices"
    )
    return found, encode_cursor(offset + limit) if more else None
