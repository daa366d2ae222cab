"""Tables of payments: money received from a patient, its allocations to issued
invoices, and its refunds. Money columns are ``BigInteger`` minor units of ``currency``.

The ledger of one payment::

    amount = allocated + refunded + unallocated        (unallocated >= 0)

``allocated`` is the sum of the payment's allocation rows and ``refunded`` of its refund
rows; both are kept on the payment (updated with the rows, under the payment's lock) so
that the patient's credit is one indexed query. A voided payment keeps its amount but
counts for nothing: its allocations were released when it was voided.

Allocation rows are append-only entries: a positive amount applies money to an invoice,
a negative one releases it (a void, a refund of allocated money, a credit note that left
the invoice paid beyond what it now asks). An invoice's ``amount_paid`` is the sum of its
allocation rows, so ``amount_due = total - credited_total - allocations`` holds at all
times. Nothing here is ever deleted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.billing.vocabulary import AllocationKind, PaymentStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

Money = BigInteger


class Payment(Base, Entity, TenantScoped):
    """Money received from (or on behalf of) a patient, once, by one method.

    ``received_at`` is when the money changed hands (UTC); ``business_date`` is that
    instant's date in the organization's time zone, the day it belongs to at day close.
    """

    __tablename__ = "payments"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[datetime]
    business_date: Mapped[date] = mapped_column(Date)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), default=None
    )
    taken_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.RECORDED)
    allocated: Mapped[int] = mapped_column(Money, default=0)
    refunded: Mapped[int] = mapped_column(Money, default=0)
    void_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    voided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    voided_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def unallocated(self) -> int:
        """The patient's credit held in this payment (nothing once voided)."""
        if self.status == PaymentStatus.VOIDED:
            return 0
        return self.amount - self.allocated - self.refunded

    __table_args__ = (
        Index("ix_payments_patient", "patient_id", "received_at"),
        # Day close sums a day's payments by location, user and method.
        Index("ix_payments_day", "organization_id", "business_date", "location_id"),
    )


class PaymentAllocation(Base, Entity, TenantScoped):
    """An entry applying (``amount > 0``) or releasing (``amount < 0``) part of a
    payment to an issued invoice of the same patient; ``kind`` says why."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(16), default=AllocationKind.PAYMENT)
    made_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_payment_allocations_payment", "payment_id"),
        Index("ix_payment_allocations_invoice", "invoice_id"),
    )


class Refund(Base, Entity, TenantScoped):
    """Money given back of a payment, by the payment's own method, with its reason.

    ``business_date`` and ``location_id`` place it in a day's drawer, like a payment."""

    __tablename__ = "refunds"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    refunded_at: Mapped[datetime]
    business_date: Mapped[date] = mapped_column(Date)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), default=None
    )
    refunded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_refunds_payment", "payment_id"),
        Index("ix_refunds_patient", "patient_id"),
        Index("ix_refunds_day", "organization_id", "business_date", "location_id"),
    )
