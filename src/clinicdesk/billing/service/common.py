"""What billing's use cases share: the organization's currency and today, the invoice
with its lines, recomputing a draft's figures, and audit entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import BadAmount, CurrencyRefused, InvoiceIssued, InvoiceNotFound
from clinicdesk.billing.kernel.money import (
    Discount,
    LineInput,
    UnknownCurrency,
    compute,
    minor_units,
)
from clinicdesk.billing.kernel.numbering import DEFAULT_CREDIT_NOTE_FORMAT, DEFAULT_INVOICE_FORMAT
from clinicdesk.billing.models import BillingSettings, Invoice, InvoiceLine
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, new_id, utcnow
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.identity import public as identity

# 10^15 minor units (10 trillion in a two-decimal currency): far past any real invoice,
# far inside a BIGINT, so no sum of lines or taxes can overflow the columns.
MAX_INVOICE_AMOUNT = 10**15


@dataclass(frozen=True, slots=True)
class InvoiceWithLines:
    invoice: Invoice
    lines: Sequence[InvoiceLine]


@dataclass(frozen=True, slots=True)
class Books:
    """The organization's currency and its calendar day."""

    currency: str
    time_zone: str

    def today(self, at: datetime | None = None) -> date:
        return (at or utcnow()).astimezone(ZoneInfo(self.time_zone)).date()


async def books(session: AsyncSession) -> Books:
    organization = await identity.get_organization(session)
    try:
        minor_units(organization.currency)
    except UnknownCurrency as exc:
        raise CurrencyRefused(
            f"{exc}. An admin sets the organization's currency (Settings) to an ISO 4217 "
            "code such as EUR before invoicing."
        ) from exc
    return Books(currency=organization.currency.upper(), time_zone=organization.time_zone)


async def saved_settings(session: AsyncSession) -> BillingSettings | None:
    return await session.scalar(select(BillingSettings))


async def number_formats(session: AsyncSession) -> tuple[str, str]:
    """The invoice and credit-note number formats (the defaults until changed). Read
    only: issuing never writes the settings row, so parallel issues cannot race on it."""
    found = await saved_settings(session)
    if found is None:
        return DEFAULT_INVOICE_FORMAT, DEFAULT_CREDIT_NOTE_FORMAT
    return found.invoice_number_format, found.credit_note_number_format


async def settings_row(session: AsyncSession) -> BillingSettings:
    """The settings row, made on first change (an insert that a concurrent first change
    does not break: it waits, then both update the one row)."""
    connection = await session.connection()
    upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        upsert(BillingSettings)
        .values(
            id=new_id(),
            organization_id=current_tenant(session),
            invoice_number_format=DEFAULT_INVOICE_FORMAT,
            credit_note_number_format=DEFAULT_CREDIT_NOTE_FORMAT,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )
    found = await session.scalars(
        select(BillingSettings).execution_options(populate_existing=True).with_for_update()
    )
    return found.one()  # just made, or already there


def discount_of(percent: Decimal | None, amount: int | None) -> Discount:
    return Discount(percent=percent, amount=amount)


def rates_of(tax_rates: Sequence[dict[str, Any]]) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(rate["rate"])) for rate in tax_rates)


async def find_invoice(
    session: AsyncSession, invoice_id: uuid.UUID, *, for_update: bool = False
) -> Invoice:
    invoice = await session.get(
        Invoice, invoice_id, with_for_update=for_update, populate_existing=for_update
    )
    if invoice is None:
        raise InvoiceNotFound("No invoice with this id.")
    return invoice


async def lines_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position, InvoiceLine.id)
        )
    )


async def editable_draft(
    session: AsyncSession, invoice_id: uuid.UUID, *, expected_version: int | None
) -> Invoice:
    """The draft to change, locked for the change; an issued invoice is refused."""
    invoice = await find_invoice(session, invoice_id, for_update=True)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceIssued(
            f"Invoice {invoice.number} is issued and cannot change; correct it with a "
            "credit note (POST /api/v1/invoices/{id}/credit-notes)."
        )
    check_version(invoice, expected_version)
    return invoice


async def recompute(session: AsyncSession, invoice: Invoice) -> list[InvoiceLine]:
    """Every line's figures and the invoice's sums, from the kernel (the rounding rule is
    ``kernel/money.py``'s). The invoice's version moves on with every change of a draft,
    so an ``If-Match`` read before a line changed is refused."""
    lines = await lines_of(session, invoice.id)
    figures = compute(
        [
            LineInput(
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rates=rates_of(line.tax_rates),
                discount=discount_of(line.discount_percent, line.discount_amount),
            )
            for line in lines
        ],
        discount_of(invoice.discount_percent, invoice.discount_amount),
    )
    if figures.subtotal > MAX_INVOICE_AMOUNT:
        raise BadAmount(
            "quantity",
            f"The invoice would come to more than {MAX_INVOICE_AMOUNT} minor units of "
            f"{invoice.currency}; check the quantities and prices.",
        )
    for line, f in zip(lines, figures.lines, strict=True):
        line.gross, line.line_discount, line.invoice_discount = (
            f.gross,
            f.line_discount,
            f.invoice_discount,
        )
        line.net, line.tax, line.total = f.net, f.tax, f.total
    invoice.subtotal = figures.subtotal
    invoice.discount_total = figures.discount_total
    invoice.tax_total = figures.tax_total
    invoice.total = figures.total
    invoice.amount_due = invoice.total - invoice.credited_total - invoice.amount_paid
    invoice.updated_at = utcnow()
    await session.flush()
    return lines


async def audit_change(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    resource_type: str,
    record: Any,
    patient_id: uuid.UUID | None,
    before: dict[str, object] | None,
    details: dict[str, Any] | None = None,
    flush: bool = True,
) -> None:
    """The audit entry of a change to one of billing's records (``record`` as it is now,
    ``before`` its snapshot before the change, None for a new one); ``flush`` as
    ``audit.record``'s."""
    await audit.record(
        session,
        action=action,
        actor=actor,
        resource_type=resource_type,
        resource_id=record.id,
        patient_id=patient_id,
        changes=audit.changes(before, audit.snapshot(record)),
        details=details,
        flush=flush,
    )


async def audit_invoice(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    invoice: Invoice,
    before: dict[str, object] | None,
    details: dict[str, Any] | None = None,
    flush: bool = True,
) -> None:
    await audit_change(
        session,
        actor=actor,
        action=action,
        resource_type="invoice",
        record=invoice,
        patient_id=invoice.patient_id,
        before=before,
        details=details,
        flush=flush,
    )
