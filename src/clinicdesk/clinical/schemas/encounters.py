"""Request and response shapes of encounters."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from clinicdesk.clinical.vocabulary import EncounterKind, EncounterStatus
from clinicdesk.core.schemas import SafeText, Strict


class EncounterStart(Strict):
    """Open a consultation without a queue visit: a booked appointment seen straight
    away, or ad hoc (a phone call, a video visit, a home visit)."""

    patient_id: uuid.UUID
    kind: EncounterKind = EncounterKind.IN_PERSON
    reason: SafeText = Field(default=None, max_length=500)
    appointment_id: uuid.UUID | None = Field(
        default=None, description="The appointment this consultation fulfils, if any."
    )
    location_id: uuid.UUID | None = Field(
        default=None,
        description="Where the patient is seen; empty for phone and video, or the "
        "appointment's location.",
    )


class EncounterCancel(Strict):
    reason: SafeText = Field(min_length=3, max_length=300)
    entered_in_error: bool = Field(
        default=False,
        description="The encounter should never have existed (wrong patient): it is "
        "marked entered-in-error instead of cancelled.",
    )


class EncounterReason(Strict):
    reason: SafeText = Field(default=None, max_length=500)


class EncounterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    kind: EncounterKind
    status: EncounterStatus
    reason: str | None
    started_at: datetime
    finished_at: datetime | None
    open_reason: str | None = Field(
        description="Why the encounter is still open after its visit finished (e.g. the "
        "note is not signed)."
    )
    cancel_reason: str | None
    version: int


class EncounterList(BaseModel):
    items: list[EncounterRead]
    next_cursor: str | None
