"""Request and response shapes of the scheduling API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from clinicdesk.core.dates import AwareMoment, Day, WallTime
from clinicdesk.core.schemas import SafeText, Strict, safe_text
from clinicdesk.scheduling.vocabulary import PartOfDay

_COLOR = r"^#[0-9a-fA-F]{6}$"


# An instant with its offset, in the window of dates the application accepts.
AwareDatetime = AwareMoment


class ProviderWrite(Strict):
    user_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=200)
    specialty: SafeText = Field(default=None, max_length=100)
    license_number: SafeText = Field(default=None, max_length=64)
    default_duration_minutes: int = Field(default=15, ge=5, le=480)
    color: str = Field(default="#2563eb", pattern=_COLOR)
    location_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    is_active: bool = True


class ProviderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    specialty: str | None
    license_number: str | None
    default_duration_minutes: int
    color: str
    is_active: bool
    location_ids: list[uuid.UUID] = []
    version: int


class HoursBlock(Strict):
    location_id: uuid.UUID
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_time: WallTime
    end_time: WallTime
    valid_from: Day | None = None
    valid_until: Day | None = None

    @model_validator(mode="after")
    def _in_order(self) -> HoursBlock:
        if self.end_time <= self.start_time:
            raise ValueError("a block ends after it starts (blocks do not cross midnight)")
        return self


class WeeklyHoursWrite(Strict):
    """The whole regular week of a provider (replaces what was there)."""

    blocks: list[HoursBlock] = Field(max_length=200)


class HoursExceptionWrite(Strict):
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    on_date: Day
    kind: str = Field(pattern="^(off|extra)$")
    start_time: WallTime | None = None
    end_time: WallTime | None = None
    reason: SafeText = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> HoursExceptionWrite:
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("give both a start and an end time, or neither (the whole day)")
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError("the end time is before the start time")
        if self.kind == "extra" and self.start_time is None:
            raise ValueError("extra hours need a start and an end time")
        if self.provider_id is None and self.location_id is None:
            raise ValueError("name a provider, a location (a holiday), or both")
        return self


class AppointmentTypeWrite(Strict):
    name: str = Field(min_length=1, max_length=100)
    duration_minutes: int = Field(ge=5, le=480)
    color: str = Field(default="#0f766e", pattern=_COLOR)
    online_bookable: bool = False
    buffer_after_minutes: int = Field(default=0, ge=0, le=120)
    is_active: bool = True


class AppointmentTypeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    duration_minutes: int
    color: str
    online_bookable: bool
    buffer_after_minutes: int
    is_active: bool
    version: int


class AppointmentCreate(Strict):
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    starts_at: AwareDatetime
    reason: SafeText = Field(default=None, max_length=500)
    overbook: bool = Field(
        default=False,
        description="Book outside hours or over another appointment on purpose "
        "(needs scheduling:overbook and a reason).",
    )
    overbook_reason: SafeText = Field(default=None, max_length=300)
    record_past_visit: bool = Field(
        default=False,
        description="Book a time that has already passed, to record a visit that took "
        "place (kept in the audit trail). Without it a time more than 15 minutes ago is "
        "refused with 409 time-in-past.",
    )


class AppointmentReschedule(Strict):
    starts_at: AwareDatetime
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    overbook: bool = False
    overbook_reason: SafeText = Field(default=None, max_length=300)


class AppointmentCancel(Strict):
    reason: Annotated[str, AfterValidator(safe_text)] = Field(min_length=2, max_length=300)


class AppointmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    series_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    status: str
    reason: str | None
    overbooked: bool
    overbook_reason: str | None
    booked_via: str
    cancelled_at: datetime | None
    cancel_reason: str | None
    version: int


class SlotQuery(Strict):
    type_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID | None = None
    start: Day
    end: Day
    part_of_day: PartOfDay | None = None
    limit: int = Field(default=10, ge=1, le=100)


class Slot(BaseModel):
    provider_id: uuid.UUID
    location_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class AppointmentPage(BaseModel):
    items: list[AppointmentRead]
    next_cursor: str | None = None


class BookingPolicyWrite(Strict):
    min_notice_hours: int = Field(default=24, ge=0, le=24 * 30)
    max_days_ahead: int = Field(default=60, ge=1, le=365)
    cancel_window_hours: int = Field(default=24, ge=0, le=24 * 30)
    max_open_bookings: int = Field(default=3, ge=1, le=50)


class BookingPolicyRead(BookingPolicyWrite):
    model_config = ConfigDict(from_attributes=True)

    version: int


class PortalBooking(Strict):
    """A patient booking for themselves: the patient is the signed-in one."""

    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    starts_at: AwareDatetime
    reason: SafeText = Field(default=None, max_length=500)


class PortalReschedule(Strict):
    starts_at: AwareDatetime
