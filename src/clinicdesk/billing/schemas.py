"""Request and response shapes of billing. Money is an integer of the currency's minor
unit (``1250`` is 12.50 EUR, ``1250`` is 1,250 JPY); every answer names its currency."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from clinicdesk.billing.vocabulary import InvoiceStatus, PaymentState, payment_state
from clinicdesk.core.schemas import SafeText, Strict, safe_text

# 10^13 minor units: 100 billion in a two-decimal currency, far past any clinic's bill
# and inside a BigInteger with room for sums of many lines.
MAX_AMOUNT = 10**13
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True)]
PercentValue = Annotated[
    Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4, allow_inf_nan=False)
]
QuantityValue = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("999999999"), max_digits=12, decimal_places=3, allow_inf_nan=False),
]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]


def _safe(value: str) -> str:
    """Text shown on invoices (and, later, printed): no control or direction characters."""
    cleaned = safe_text(value)
    if cleaned is None:
        raise ValueError("must not be empty")
    return cleaned


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_safe)]


class TaxRate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_safe)]
    rate: PercentValue


class Discounted(Strict):
    """A percentage or an amount, not both; a discount needs its reason."""

    discount_percent: PercentValue | None = None
    discount_amount: Amount | None = None
    discount_reason: SafeText = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_with_reason(self) -> Discounted:
        if self.discount_percent is not None and self.discount_amount is not None:
            raise ValueError("Give the discount as a percentage or as an amount, not both.")
        given = self.discount_percent is not None or self.discount_amount is not None
        if given and not self.discount_reason:
            raise ValueError("A discount needs its reason (discount_reason).")
        return self


# --- the fee schedule ---------------------------------------------------------------------


class FeeItemCreate(Strict):
    code: Code
    billing_code: Annotated[str | None, Field(max_length=40)] = None
    name: Name
    unit_price: Amount
    tax_rates: list[TaxRate] = Field(default_factory=list, max_length=5)
    active_from: date | None = Field(default=None, description="Today when not given.")
    appointment_type_id: uuid.UUID | None = None
    catalogue_item_id: uuid.UUID | None = None


class FeePriceVersion(Strict):
    """A new price from ``active_from`` on; the current version ends the day before."""

    unit_price: Amount
    tax_rates: list[TaxRate] | None = Field(default=None, max_length=5)
    name: Name | None = None
    active_from: date | None = Field(default=None, description="Today when not given.")


class FeeItemDeactivate(Strict):
    active_to: date | None = Field(default=None, description="Last day offered; today if empty.")


class FeeItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    billing_code: str | None
    name: str
    unit_price: int
    currency: str
    tax_rates: list[TaxRate]
    active_from: date
    active_to: date | None
    appointment_type_id: uuid.UUID | None
    catalogue_item_id: uuid.UUID | None
    previous_id: uuid.UUID | None
    version: int


class FeeItemList(BaseModel):
    items: list[FeeItemRead]


# --- invoices -----------------------------------------------------------------------------


class LineAdd(Discounted):
    """A fee item (its price and taxes are the schedule's on the invoice's date) or free
    text (``name`` and ``unit_price``, with ``tax_rates`` if any)."""

    fee_item_id: uuid.UUID | None = None
    name: Name | None = None
    code: Annotated[str | None, Field(max_length=40)] = None
    quantity: QuantityValue = Decimal(1)
    unit_price: Amount | None = None
    tax_rates: list[TaxRate] | None = Field(default=None, max_length=5)

    @model_validator(mode="after")
    def _item_or_text(self) -> LineAdd:
        if self.fee_item_id is not None:
            if self.unit_price is not None or self.tax_rates is not None:
                raise ValueError(
                    "A fee item's line takes its price and taxes from the fee schedule; "
                    "leave unit_price and tax_rates out, or bill it as free text."
                )
        elif not self.name or self.unit_price is None:
            raise ValueError("Give a fee_item_id, or a name and a unit_price for free text.")
        return self


class LineChange(Discounted):
    """The whole changeable part of a line: quantity and discount; name, price and taxes
    only on free-text lines (a fee item's line keeps the schedule's)."""

    quantity: QuantityValue = Decimal(1)
    name: Name | None = None
    unit_price: Amount | None = None
    tax_rates: list[TaxRate] | None = Field(default=None, max_length=5)


class InvoiceDiscount(Discounted):
    """The invoice-level discount; all fields empty removes it."""


class InvoiceCreate(Strict):
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    notes: SafeText = Field(default=None, max_length=4000)
    lines: list[LineAdd] = Field(default_factory=list, max_length=200)


class InvoiceUpdate(Strict):
    notes: SafeText = Field(default=None, max_length=4000)
    location_id: uuid.UUID | None = None


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int
    source: str
    fee_item_id: uuid.UUID | None
    order_id: uuid.UUID | None
    code: str | None
    billing_code: str | None
    name: str
    quantity: Decimal
    unit_price: int
    tax_rates: list[TaxRate]
    discount_percent: Decimal | None
    discount_amount: int | None
    discount_reason: str | None
    gross: int
    line_discount: int
    invoice_discount: int
    net: int
    tax: int
    total: int
    credited: int
    version: int


class InvoiceSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    location_id: uuid.UUID | None
    status: InvoiceStatus
    currency: str
    number: str | None
    issue_date: date | None
    issued_at: datetime | None
    notes: str | None
    discount_percent: Decimal | None
    discount_amount: int | None
    discount_reason: str | None
    subtotal: int
    discount_total: int
    tax_total: int
    total: int
    credited_total: int
    amount_paid: int
    amount_due: int
    created_at: datetime
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def payment_state(self) -> PaymentState | None:
        """unpaid / part_paid / paid of an issued invoice (None for a draft)."""
        return payment_state(
            status=self.status, amount_paid=self.amount_paid, amount_due=self.amount_due
        )


class InvoiceRead(InvoiceSummary):
    lines: list[LineRead]


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None = None


class CreditLine(Strict):
    invoice_line_id: uuid.UUID
    amount: Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True)] = Field(
        description="Tax included, in minor units; at most what is left to credit of the line."
    )


class CreditNoteCreate(Strict):
    """Lines and amounts to credit; no lines credits everything not yet credited."""

    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_safe)]
    lines: list[CreditLine] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _distinct(self) -> CreditNoteCreate:
        ids = [line.invoice_line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("Each invoice line appears at most once; add up its amounts.")
        return self


class CreditNoteLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_line_id: uuid.UUID
    name: str
    amount: int
    tax: int


class CreditNoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    currency: str
    number: str
    issue_date: date
    issued_at: datetime
    reason: str
    tax_total: int
    total: int
    lines: list[CreditNoteLineRead]


class CreditNoteList(BaseModel):
    items: list[CreditNoteRead]


class NumberFormats(Strict):
    invoice_number_format: Annotated[str, Field(min_length=1, max_length=60)]
    credit_note_number_format: Annotated[str, Field(min_length=1, max_length=60)]


class NumberFormatsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_number_format: str
    credit_note_number_format: str
    version: int
