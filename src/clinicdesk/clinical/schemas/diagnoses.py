"""Request and response shapes of an encounter's diagnoses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, model_validator

from clinicdesk.clinical.vocabulary import DiagnosisRank, DiagnosisStatus
from clinicdesk.core.schemas import SafeText, Strict


class DiagnosisWrite(Strict):
    """A diagnosis: an ICD-10-CM code (its title is the description unless one is
    given), or, uncoded, a description alone."""

    icd10_code: SafeText = Field(
        default=None, max_length=10, description="Any spelling: 'E11.9', 'e119'."
    )
    description: SafeText = Field(
        default=None,
        max_length=300,
        description="Required without a code (the diagnosis is then uncoded).",
    )
    rank: DiagnosisRank | None = Field(
        default=None,
        description="Empty: primary if the consultation has no primary diagnosis yet, "
        "else secondary. A new primary makes the previous one secondary.",
    )
    note: SafeText = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def code_or_description(self) -> Self:
        if not self.icd10_code and not self.description:
            raise ValueError("Pick an ICD-10-CM code, or describe the diagnosis.")
        return self


class DiagnosisChange(Strict):
    """Only the fields sent change."""

    rank: DiagnosisRank | None = None
    note: SafeText = Field(default=None, max_length=1000)


class DiagnosisError(Strict):
    reason: SafeText = Field(min_length=3, max_length=300)


class DiagnosisRead(BaseModel):
    id: uuid.UUID
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    icd10_code: str | None
    description: str
    coded: bool = Field(description="False for a free-text diagnosis without a code.")
    rank: DiagnosisRank
    note: str | None
    status: DiagnosisStatus
    error_reason: str | None
    chronic_condition: str | None = Field(
        description="The chronic condition the code belongs to (clinical/kernel/chronic.py)."
    )
    on_problem_list: bool
    offer_problem_list: bool = Field(
        description="A chronic diagnosis not yet on the problem list: offer to add it."
    )
    created_at: datetime
    version: int


class ProblemAdded(BaseModel):
    problem_id: uuid.UUID
    description: str
    icd10_code: str | None
