"""Tables of insurance claims. Money columns are ``BigInteger`` minor units of
``currency`` (the invoice's).

A claim asks one payer, under one of the patient's policies, to pay (part of) one issued
invoice. Its items copy the invoice lines they claim (codes, quantity, price, amounts), so
a later credit note never rewrites a claim that was sent. Remittances are what the payer
paid against it; each moves ``amount_paid`` (and ``amount_adjusted``) and the status.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.billing.models import Quantity
from clinicdesk.billing.vocabulary import ClaimStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

Money = BigInteger


class Claim(Base, Entity, TenantScoped):
    """One invoice claimed from one payer under one policy.

    ``amount_claimed + patient_share`` is what was left due on the invoice for this claim
    when it was made; ``amount_approved`` is the payer's word on acceptance (at most the
    claimed amount); ``amount_paid + amount_adjusted`` never passes the approved amount
    (the claimed one until there is an approval). ``payer_id`` and ``priority`` are the
    policy's when the claim was made, so the list filters by payer without the policy.
    """

    __tablename__ = "claims"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("insurance_policies.id", ondelete="RESTRICT")
    )
    payer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payers.id", ondelete="RESTRICT"))
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.DRAFT)
    currency: Mapped[str] = mapped_column(String(3))
    service_date: Mapped[date] = mapped_column(Date)
    amount_claimed: Mapped[int] = mapped_column(Money)
    patient_share: Mapped[int] = mapped_column(Money, default=0)
    amount_approved: Mapped[int | None] = mapped_column(Money, default=None)
    amount_paid: Mapped[int] = mapped_column(Money, default=0)
    amount_adjusted: Mapped[int] = mapped_column(Money, default=0)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    payer_reference: Mapped[str | None] = mapped_column(String(80), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    eligibility_note: Mapped[str | None] = mapped_column(String(1000), default=None)
    """What the desk learned of the patient's eligibility for this claim (a phone check,
    a reference); the policy's standing notes stay on the policy."""

    __table_args__ = (
        Index("ix_claims_invoice", "invoice_id"),
        Index("ix_claims_patient", "patient_id"),
        Index("ix_claims_policy", "policy_id"),
        Index("ix_claims_payer_status", "organization_id", "payer_id", "status"),
        Index("ix_claims_status_created", "organization_id", "status", "created_at"),
    )


class ClaimItem(Base, Entity, TenantScoped):
    """An invoice line as claimed: ``net`` is the line after discounts, ``total`` with
    its tax, less what credit notes took off the line before the claim was made."""

    __tablename__ = "claim_items"

    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    invoice_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoice_lines.id", ondelete="RESTRICT")
    )
    sequence: Mapped[int] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(40), default=None)
    billing_code: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[int] = mapped_column(Money)
    net: Mapped[int] = mapped_column(Money)
    tax: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money)

    __table_args__ = (Index("ix_claim_items_claim", "claim_id", "sequence"),)


class ClaimRemittance(Base, Entity, TenantScoped):
    """What the payer paid against a claim on one day (``amount``), and what it adjusted
    away (``adjustment``: contractual write-offs, denials of a part) with the reason.
    Never changed or deleted once recorded."""

    __tablename__ = "claim_remittances"

    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(Money)
    adjustment: Mapped[int] = mapped_column(Money, default=0)
    adjustment_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    received_on: Mapped[date] = mapped_column(Date)
    payer_reference: Mapped[str | None] = mapped_column(String(80), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (Index("ix_claim_remittances_claim", "claim_id", "received_on"),)
