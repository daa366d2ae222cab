"""Request and response shapes of prescriptions, the drug search and the safety checks."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from clinicdesk.clinical.kernel.sig import DoseForm, Frequency, Route
from clinicdesk.clinical.vocabulary import PrescriptionStatus
from clinicdesk.core.schemas import SafeText, Strict, safe_text


class PrescriptionWrite(Strict):
    """What is prescribed. ``drug_id`` from ``GET /api/v1/drugs?q=``; without it the drug
    is free text (``drug_name``) and marked uncoded: the safety checks then only know its
    name. The sig is generated from these fields."""

    drug_id: int | None = Field(default=None, description="A drug of the vocabulary.")
    drug_name: Annotated[str | None, AfterValidator(safe_text)] = Field(
        default=None,
        max_length=200,
        description="Free text when the drug is not in the vocabulary (or the name to print).",
    )
    strength: SafeText = Field(default=None, max_length=60, examples=["500 mg"])
    form: DoseForm = DoseForm.TABLET
    dose: Decimal = Field(gt=0, le=10000, max_digits=10, decimal_places=3)
    route: Route = Route.ORAL
    frequency: Frequency = Frequency.DAILY
    as_needed_for: SafeText = Field(default=None, max_length=100, examples=["pain"])
    duration_days: int | None = Field(default=None, ge=1, le=365)
    quantity: Decimal | None = Field(default=None, gt=0, le=100000, decimal_places=2)
    refills: int = Field(default=0, ge=0, le=11)
    instructions: SafeText = Field(default=None, max_length=500, examples=["After food."])
    override_reason: SafeText = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="Why to go ahead although the safety checks found something (required "
        "then: the first attempt answers 409 safety-check with the findings).",
    )

    @model_validator(mode="after")
    def _names_the_drug(self) -> PrescriptionWrite:
        if self.drug_id is None and not self.drug_name:
            raise ValueError("pick a drug from the list, or type its name")
        return self


class PrescriptionCheck(Strict):
    """Run the checks for a drug in a consultation without prescribing it."""

    encounter_id: uuid.UUID
    drug_id: int | None = None
    drug_name: Annotated[str | None, AfterValidator(safe_text)] = Field(
        default=None, max_length=200
    )

    @model_validator(mode="after")
    def _names_the_drug(self) -> PrescriptionCheck:
        if self.drug_id is None and not self.drug_name:
            raise ValueError("pick a drug from the list, or type its name")
        return self


class PrescriptionStop(Strict):
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=3, max_length=300)


class PrescriptionRenew(Strict):
    """Prescribe the same again in the open consultation ``encounter_id``."""

    encounter_id: uuid.UUID
    override_reason: SafeText = Field(default=None, min_length=3, max_length=500)


class PrescriptionChange(Strict):
    """Discontinue this prescription (``reason``) and prescribe ``new`` in its place."""

    encounter_id: uuid.UUID
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=3, max_length=300)
    new: PrescriptionWrite


class FindingRead(BaseModel):
    kind: str = Field(description="allergy, duplicate-therapy or interaction")
    severity: str = Field(description="contraindicated, major or moderate")
    title: str
    evidence: str = Field(description="Which allergy or active drug the finding comes from.")
    detail: str
    management: str | None
    rule: str | None
    source: str | None


class CheckResult(BaseModel):
    drug: str
    coded: bool
    findings: list[FindingRead]


class DrugRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    matched: str = Field(description="The name that matched the search (a synonym or brand).")
    is_brand: bool
    drugbank_id: str | None
    mesh_tree_numbers: list[str]


class PrescriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    prescribed_by_id: uuid.UUID | None
    drug_id: int | None
    drug_name: str
    coded: bool
    strength: str | None
    form: DoseForm
    dose: Decimal
    route: Route
    frequency: Frequency
    as_needed_for: str | None
    duration_days: int | None
    quantity: Decimal | None
    refills: int
    instructions: str | None
    sig: str
    status: PrescriptionStatus
    status_reason: str | None
    status_changed_at: datetime | None
    prescribed_at: datetime
    medication_entry_id: uuid.UUID | None
    replaces_id: uuid.UUID | None
    override_reason: str | None
    findings: list[dict[str, Any]]
    version: int


class PrescriptionList(BaseModel):
    items: list[PrescriptionRead]
