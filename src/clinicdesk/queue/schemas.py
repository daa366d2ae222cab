"""Request and response shapes of the queue API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from clinicdesk.core.schemas import SafeText, Strict, safe_text
from clinicdesk.queue.vocabulary import Priority, ProviderState, VisitStatus

Room = Field(
    default=None,
    max_length=40,
    description="Where the patient goes: one of the location's rooms (e.g. 'Room 3'). "
    "Empty: the room the visit was called to before, else the provider's last room at the "
    "location, else its first room; 409 for a room the location does not have.",
)


class AppointmentCheckIn(Strict):
    """A booked patient arrived."""

    appointment_id: uuid.UUID
    priority: Priority = Priority.NORMAL
    priority_reason: SafeText = Field(default=None, max_length=200)
    early: bool = Field(
        default=False,
        description="The desk confirmed a check-in more than 120 minutes before the "
        "appointment (the patient will wait); without it that is 409 check-in-too-early.",
    )

    @model_validator(mode="after")
    def _reason_with_priority(self) -> AppointmentCheckIn:
        _check_reason(self.priority, self.priority_reason)
        return self


class WalkInCheckIn(Strict):
    """A patient without an appointment. No provider: the location's unassigned queue."""

    patient_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID | None = None
    type_id: uuid.UUID | None = None
    priority: Priority = Priority.NORMAL
    priority_reason: SafeText = Field(default=None, max_length=200)
    note: SafeText = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _reason_with_priority(self) -> WalkInCheckIn:
        _check_reason(self.priority, self.priority_reason)
        return self


def _check_reason(priority: int, reason: str | None) -> None:
    if priority > Priority.NORMAL and not reason:
        raise ValueError("give a reason for the priority (e.g. 'chest pain', 'over 80')")


class CallRequest(Strict):
    room: SafeText = Room


class CallNextRequest(Strict):
    location_id: uuid.UUID
    room: SafeText = Room
    provider_id: uuid.UUID | None = Field(
        default=None, description="Whose queue; default: the signed-in provider's own"
    )


class LeaveRequest(Strict):
    reason: SafeText = Field(default=None, max_length=300)


class TransferRequest(Strict):
    provider_id: uuid.UUID | None = Field(
        description="The provider to wait for next; null: the location's unassigned queue"
    )
    reason: SafeText = Field(default=None, max_length=300)


class PriorityRequest(Strict):
    priority: Priority
    reason: SafeText = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _reason_with_priority(self) -> PriorityRequest:
        _check_reason(self.priority, self.reason)
        return self


class MoveRequest(Strict):
    direction: Literal["up", "down"]


class ProviderStatusWrite(Strict):
    state: ProviderState
    eta_minutes: int | None = Field(
        default=None, ge=0, le=24 * 60, description="Break, away, in transit: back in N minutes"
    )
    note: SafeText = Field(default=None, max_length=200)


class DisplayWrite(Strict):
    location_id: uuid.UUID
    name: Annotated[str, AfterValidator(safe_text)] = Field(min_length=1, max_length=100)
    show_initials: bool = False


# --- responses --------------------------------------------------------------------------


class VisitRead(BaseModel):
    id: uuid.UUID
    token: str
    status: VisitStatus
    location_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    type_id: uuid.UUID | None
    service_date: date
    priority: int
    priority_reason: str | None
    room: str | None
    arrived_at: datetime
    called_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    left_at: datetime | None
    version: int
    position: int | None = Field(default=None, description="1 = next; only while waiting")
    estimated_wait_minutes: int | None = None
    status_link: str | None = Field(
        default=None, description="The patient's private status link; only in the check-in answer"
    )


class ProviderStatusRead(BaseModel):
    provider_id: uuid.UUID
    display_name: str
    state: ProviderState
    since: datetime | None
    eta_at: datetime | None
    note: str | None


class QueueRead(BaseModel):
    provider: ProviderStatusRead | None = Field(description="null: the unassigned queue")
    visits: list[VisitRead]


class BoardRead(BaseModel):
    location_id: uuid.UUID
    service_date: date
    queues: list[QueueRead]
    done_today: int
    left_today: int


class DisplayRead(BaseModel):
    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    show_initials: bool
    active: bool
    link: str | None = Field(default=None, description="Only when it is created or renewed")


class PatientStatusRead(BaseModel):
    """What the patient's own link shows: their visit only."""

    token: str
    status: VisitStatus
    location: str
    provider: str | None
    room: str | None
    position: int | None
    estimated_wait_minutes: int | None
    text_when_near: bool = False
    """The patient asked for a text when their turn is near."""
