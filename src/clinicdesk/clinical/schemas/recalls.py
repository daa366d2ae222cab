"""Request and response shapes of a patient's recalls (planned follow-ups)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clinicdesk.clinical.vocabulary import RecallStatus, RecallUnit
from clinicdesk.core.schemas import SafeText, Strict


class RecallWrite(Strict):
    """A follow-up: on a day (``due_on``), or in N weeks or months from today
    (``in_count`` and ``in_unit``)."""

    encounter_id: uuid.UUID | None = Field(
        default=None, description="The consultation it is planned in (the patient's own)."
    )
    due_on: date | None = None
    in_count: int | None = Field(default=None, ge=1, le=120)
    in_unit: RecallUnit | None = None
    type_id: uuid.UUID | None = Field(
        default=None, description="The appointment type to book, if it matters."
    )
    note: SafeText = Field(
        default=None, max_length=500, description="For staff only; never sent to the patient."
    )

    @model_validator(mode="after")
    def when(self) -> Self:
        if self.due_on is None and (self.in_count is None or self.in_unit is None):
            raise ValueError("Say when: a date, or in how many weeks or months.")
        if self.due_on is not None and self.in_count is not None:
            raise ValueError("Give a date or 'in N weeks/months', not both.")
        return self


class RecallCancel(Strict):
    reason: SafeText = Field(min_length=3, max_length=300)


class RecallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    due_on: date
    type_id: uuid.UUID | None
    note: str | None
    status: RecallStatus
    cancel_reason: str | None
    booked_appointment_id: uuid.UUID | None
    created_at: datetime
    version: int
