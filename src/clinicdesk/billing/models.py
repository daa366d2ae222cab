"""Tables of billing. Money columns are ``BigInteger`` minor units of ``currency``.

An invoice line copies what it bills (code, name, unit price, tax rates) from the fee
schedule when it is added, so a later price version never rewrites an invoice; an
issued invoice's rows are never updated again (the service refuses it) except by
payments, which move ``amount_paid`` and ``amount_due``, and by credit notes, which move
``credited_total`` and ``amount_due``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.billing.kernel.numbering import DEFAULT_CREDIT_NOTE_FORMAT, DEFAULT_INVOICE_FORMAT
from clinicdesk.billing.vocabulary import InvoiceStatus, LineSource
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

# Percentages (discounts, tax rates): 0 to 100 with up to 4 decimals.
Percent = Numeric(precision=7, scale=4)
# Quantities: up to 9 digits with 3 decimals (half an hour, 2.5 ml).
Quantity = Numeric(precision=12, scale=3)
Money = BigInteger


class BillingSettings(Base, Entity, TenantScoped):
    """The organization's number formats (one row, made on first use)."""

    __tablename__ = "billing_settings"

    invoice_number_format: Mapped[str] = mapped_column(String(60), default=DEFAULT_INVOICE_FORMAT)
    credit_note_number_format: Mapped[str] = mapped_column(
        String(60), default=DEFAULT_CREDIT_NOTE_FORMAT
    )

    __table_args__ = (UniqueConstraint("organization_id"),)


class FeeItem(Base, Entity, TenantScoped):
    """One price version of a service or item. A price change adds a row with the same
    ``code`` from a later ``active_from`` and ends the previous one the day before;
    ``active_to`` is inclusive, empty while open-ended.

    ``tax_rates``: ``[{"name": "VAT", "rate": "20"}]`` (percent as a decimal string).
    ``appointment_type_id``: this is the default fee of that appointment type.
    ``catalogue_item_id``: this is the fee of that clinical catalogue test, so an order
    of it becomes a line.
    """

    __tablename__ = "fee_items"

    code: Mapped[str] = mapped_column(String(40))
    billing_code: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    tax_rates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date, default=None)
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="SET NULL"), default=None
    )
    catalogue_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("test_catalogue.id", ondelete="SET NULL"), default=None
    )
    previous_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("fee_items.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        UniqueConstraint("organization_id", "code", "active_from"),
        Index("ix_fee_items_code", "organization_id", "code"),
        Index("ix_fee_items_appointment_type", "appointment_type_id"),
        Index("ix_fee_items_catalogue_item", "catalogue_item_id"),
    )


class Invoice(Base, Entity, TenantScoped):
    """A draft (editable, no number) or an issued invoice (immutable, numbered).

    ``amount_due = total - credited_total - amount_paid``: the seam for payments, which
    add to ``amount_paid`` in their own transaction (and later statuses), never to the
    lines. Discount: ``discount_percent`` or ``discount_amount`` with its reason."""

    __tablename__ = "invoices"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default=InvoiceStatus.DRAFT)
    currency: Mapped[str] = mapped_column(String(3))
    number: Mapped[str | None] = mapped_column(String(40), default=None)
    number_year: Mapped[int | None] = mapped_column(Integer, default=None)
    number_seq: Mapped[int | None] = mapped_column(Integer, default=None)
    issue_date: Mapped[date | None] = mapped_column(Date, default=None)
    issued_at: Mapped[datetime | None] = mapped_column(default=None)
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent, default=None)
    discount_amount: Mapped[int | None] = mapped_column(Money, default=None)
    discount_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    subtotal: Mapped[int] = mapped_column(Money, default=0)
    discount_total: Mapped[int] = mapped_column(Money, default=0)
    tax_total: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money, default=0)
    credited_total: Mapped[int] = mapped_column(Money, default=0)
    amount_paid: Mapped[int] = mapped_column(Money, default=0)
    amount_due: Mapped[int] = mapped_column(Money, default=0)

    __table_args__ = (
        # The gapless series: one number per organization, never two invoices.
        UniqueConstraint("organization_id", "number"),
        UniqueConstraint("organization_id", "number_year", "number_seq"),
        Index("ix_invoices_patient", "patient_id", "created_at"),
        Index("ix_invoices_encounter", "encounter_id"),
        Index("ix_invoices_status_created", "organization_id", "status", "created_at"),
        # The aging report's: only invoices with something due, keyed by patient, with
        # what the report reads (an index-only scan; see service/aging.py).
        Index(
            "ix_invoices_outstanding",
            "organization_id",
            "patient_id",
            "issue_date",
            "amount_due",
            "location_id",
            "currency",
            sqlite_where=text("status <> 'draft' AND amount_due > 0"),
            postgresql_where=text("status <> 'draft' AND amount_due > 0"),
        ),
    )


class InvoiceLine(Base, Entity, TenantScoped):
    """A fee item (its code, name, price and taxes copied) or free text; the figures
    (``gross`` .. ``total``) are the kernel's, recomputed whenever the draft changes."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default=LineSource.MANUAL)
    fee_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("fee_items.id", ondelete="SET NULL"), default=None
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clinical_orders.id", ondelete="SET NULL"), default=None
    )
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    billing_code: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[int] = mapped_column(Money)
    tax_rates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    discount_percent: Mapped[Decimal | None] = mapped_column(Percent, default=None)
    discount_amount: Mapped[int | None] = mapped_column(Money, default=None)
    discount_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    gross: Mapped[int] = mapped_column(Money, default=0)
    line_discount: Mapped[int] = mapped_column(Money, default=0)
    invoice_discount: Mapped[int] = mapped_column(Money, default=0)
    net: Mapped[int] = mapped_column(Money, default=0)
    tax: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money, default=0)
    credited: Mapped[int] = mapped_column(Money, default=0)

    __table_args__ = (Index("ix_invoice_lines_invoice", "invoice_id", "position"),)


class CreditNote(Base, Entity, TenantScoped):
    """A correction of an issued invoice, numbered in its own gapless series when made
    (there are no draft credit notes). ``total`` includes ``tax_total``."""

    __tablename__ = "credit_notes"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    number: Mapped[str] = mapped_column(String(40))
    number_year: Mapped[int] = mapped_column(Integer)
    number_seq: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str] = mapped_column(String(500))
    tax_total: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money, default=0)

    __table_args__ = (
        UniqueConstraint("organization_id", "number"),
        UniqueConstraint("organization_id", "number_year", "number_seq"),
        Index("ix_credit_notes_invoice", "invoice_id"),
        Index("ix_credit_notes_patient", "patient_id"),
    )


class CreditNoteLine(Base, Entity, TenantScoped):
    """The amount (tax included) credited of one invoice line."""

    __tablename__ = "credit_note_lines"

    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="CASCADE")
    )
    invoice_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoice_lines.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(Money)
    tax: Mapped[int] = mapped_column(Money, default=0)

    __table_args__ = (Index("ix_credit_note_lines_credit_note", "credit_note_id"),)
