"""Request and response shapes of insurance claims. Money is an integer of the
currency's minor unit, as everywhere in billing (``schemas.py``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from clinicdesk.billing.schemas import MAX_AMOUNT, Amount
from clinicdesk.billing.vocabulary import ClaimStatus
from clinicdesk.core.schemas import SafeText, Strict, safe_text

PositiveAmount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True)]


class ClaimCreate(Strict):
    """A claim of an issued invoice. Without ``policy_id`` the patient's primary policy
    in force on the invoice's date is used; without ``amount_claimed``, all that is left
    due on the invoice (less what open claims already ask), the rest is the patient's."""

    invoice_id: uuid.UUID
    policy_id: uuid.UUID | None = None
    amount_claimed: PositiveAmount | None = None
    notes: SafeText = Field(default=None, max_length=2000)
    eligibility_note: SafeText = Field(default=None, max_length=1000)


class ClaimAccept(Strict):
    amount_approved: PositiveAmount = Field(
        description="What the payer will pay, at most the claimed amount (minor units)."
    )
    payer_reference: SafeText = Field(default=None, max_length=80)


class ClaimReject(Strict):
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=500)
    payer_reference: SafeText = Field(default=None, max_length=80)


class RemittanceCreate(Strict):
    """A payment from the payer (``amount``) and what it adjusted away (``adjustment``,
    with its reason); together at most what is left of the approved (or claimed) amount."""

    amount: Amount
    adjustment: Amount = 0
    adjustment_reason: SafeText = Field(default=None, max_length=300)
    received_on: date | None = Field(default=None, description="Today when not given.")
    payer_reference: SafeText = Field(default=None, max_length=80)
    notes: SafeText = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something_with_reason(self) -> RemittanceCreate:
        if self.amount == 0 and self.adjustment == 0:
            raise ValueError("A remittance pays or adjusts something: give amount or adjustment.")
        if self.adjustment and not self.adjustment_reason:
            raise ValueError("An adjustment needs its reason (adjustment_reason).")
        return self


class ClaimItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_line_id: uuid.UUID
    sequence: int
    code: str | None
    billing_code: str | None
    name: str
    quantity: Decimal
    unit_price: int
    net: int
    tax: int
    total: int


class RemittanceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    claim_id: uuid.UUID
    amount: int
    adjustment: int
    adjustment_reason: str | None
    received_on: date
    payer_reference: str | None
    notes: str | None
    created_at: datetime


class ClaimSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    policy_id: uuid.UUID
    payer_id: uuid.UUID
    priority: str
    status: ClaimStatus
    currency: str
    service_date: date
    amount_claimed: int
    patient_share: int
    amount_approved: int | None
    amount_paid: int
    amount_adjusted: int
    submitted_at: datetime | None
    decided_at: datetime | None
    payer_reference: str | None
    rejection_reason: str | None
    notes: str | None
    eligibility_note: str | None
    created_at: datetime
    version: int


class ClaimRead(ClaimSummary):
    payer_name: str
    invoice_number: str | None
    items: list[ClaimItemRead]
    remittances: list[RemittanceRead]


class ClaimList(BaseModel):
    items: list[ClaimSummary]
    next_cursor: str | None = None


class FhirClaimResource(BaseModel):
    """A FHIR R4 ``Claim`` (hl7.org/fhir/R4/claim.html): the fields named here are always
    there, with ``type``, ``patient``, ``created``, ``insurer``, ``provider``,
    ``priority``, ``insurance``, ``item`` and ``total`` as the specification shapes
    them; amounts are exact decimals in major units."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Claim"]  # noqa: N815 - FHIR's own name
    id: str
    status: Literal["draft", "active"]
    use: Literal["claim"]
