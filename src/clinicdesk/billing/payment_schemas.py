"""Request and response shapes of payments, refunds, credit and balances. Money is an
integer of the currency's minor unit, as everywhere in billing (``1250`` is 12.50 EUR):
a decimal, a string or a float amount is refused (422), so no amount ever carries more
decimals than its currency has."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from clinicdesk.billing.schemas import MAX_AMOUNT, _safe
from clinicdesk.billing.vocabulary import AllocationKind, PaymentMethod, PaymentStatus
from clinicdesk.core.schemas import SafeText, Strict

PositiveAmount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True)]
Reason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_safe)]


class AllocationWanted(Strict):
    invoice_id: uuid.UUID
    amount: PositiveAmount = Field(description="At most the invoice's amount_due.")


class PaymentCreate(Strict):
    """Money received. ``allocations`` names the invoices it pays (each at most its
    ``amount_due``; together at most ``amount``); left out, it pays the patient's issued
    invoices oldest first; ``[]`` keeps it all as the patient's credit. Whatever is not
    allocated stays as credit."""

    patient_id: uuid.UUID
    method: PaymentMethod
    amount: PositiveAmount
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = Field(
        default=None, description="The organization's currency; refused if another."
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="When the money was received; now when not given."
    )
    location_id: uuid.UUID | None = None
    reference: SafeText = Field(default=None, max_length=200)
    allocations: list[AllocationWanted] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _distinct(self) -> PaymentCreate:
        ids = [a.invoice_id for a in self.allocations or []]
        if len(ids) != len(set(ids)):
            raise ValueError("Each invoice appears at most once; add up its amounts.")
        return self


class RefundCreate(Strict):
    """Money given back of a payment, by its own method."""

    amount: PositiveAmount
    reason: Reason


class VoidRequest(Strict):
    reason: Reason


class CreditApplication(Strict):
    """Apply the patient's credit to the invoice: ``amount`` (at most the credit and the
    invoice's ``amount_due``), or as much as both allow when left out."""

    amount: PositiveAmount | None = None


class AllocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: int
    kind: AllocationKind
    made_by_id: uuid.UUID | None
    created_at: datetime


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payment_id: uuid.UUID
    patient_id: uuid.UUID
    method: PaymentMethod
    amount: int
    currency: str
    reason: str
    refunded_at: datetime
    business_date: date
    location_id: uuid.UUID | None
    refunded_by_id: uuid.UUID | None


class PaymentSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    method: PaymentMethod
    amount: int
    currency: str
    received_at: datetime
    business_date: date
    location_id: uuid.UUID | None
    taken_by_id: uuid.UUID | None
    reference: str | None
    status: PaymentStatus
    allocated: int
    refunded: int
    unallocated: int = Field(description="The patient's credit held in this payment.")
    void_reason: str | None
    voided_by_id: uuid.UUID | None
    voided_at: datetime | None
    created_at: datetime
    version: int


class PaymentRead(PaymentSummary):
    allocations: list[AllocationRead]
    refunds: list[RefundRead]


class PaymentList(BaseModel):
    items: list[PaymentSummary]
    next_cursor: str | None = None


class CreditApplied(BaseModel):
    invoice_id: uuid.UUID
    applied: int
    amount_paid: int
    amount_due: int
    allocations: list[AllocationRead]


class BalanceRead(BaseModel):
    """``balance = invoiced - credited - paid + refunded = owed - credit_available``:
    positive, the patient owes the clinic; negative, the clinic holds their money."""

    patient_id: uuid.UUID
    currency: str
    invoiced: int = Field(description="Totals of issued invoices.")
    credited: int = Field(description="Credit notes.")
    paid: int = Field(description="Payments not voided.")
    refunded: int
    balance: int
    owed: int = Field(description="What the issued invoices still ask (amount_due).")
    credit_available: int = Field(description="Payments not allocated and not refunded.")
