"""Request and response shapes of recurring series and the waitlist."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clinicdesk.core.dates import Day
from clinicdesk.core.schemas import SafeText, Strict
from clinicdesk.scheduling.recurrence import MAX_INTERVAL, MAX_OCCURRENCES, RecurrenceRule
from clinicdesk.scheduling.schemas import AppointmentCancel, AppointmentRead, AwareDatetime
from clinicdesk.scheduling.vocabulary import PartOfDay

Scope = Literal["this", "following", "all"]


class RuleWrite(Strict):
    """How a series repeats; it ends after ``count`` appointments or on ``until`` (a local
    date, inclusive), never both."""

    frequency: Literal["daily", "weekly", "monthly"]
    interval: int = Field(default=1, ge=1, le=MAX_INTERVAL)
    weekdays: list[int] = Field(default_factory=list, max_length=7, description="0 = Monday")
    until: Day | None = None
    count: int | None = Field(default=None, ge=1, le=MAX_OCCURRENCES)

    @model_validator(mode="after")
    def _valid_rule(self) -> RuleWrite:
        self.rule()  # its ValueError (worded for the front desk) is a 422
        return self

    def rule(self) -> RecurrenceRule:
        return RecurrenceRule(
            frequency=self.frequency,
            interval=self.interval,
            weekdays=tuple(self.weekdays),
            until=self.until,
            count=self.count,
        )


class SeriesCreate(Strict):
    """The first appointment of the series and its rule. ``skip_conflicts``: book the
    appointments that fit and list the others, instead of booking nothing."""

    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    starts_at: AwareDatetime
    reason: SafeText = Field(default=None, max_length=500)
    rule: RuleWrite
    skip_conflicts: bool = False
    record_past_visit: bool = Field(
        default=False,
        description="Book the occurrences that have already passed too, as recorded past "
        "visits; without it they are refused (time-in-past).",
    )


class OccurrenceCheck(BaseModel):
    """One appointment of a series or of a move, and whether it can be booked there.

    ``problem`` is the code of what is in the way (``outside-hours``, ``slot-taken``,
    ``time-in-past``);
    ``conflicting_ids`` the appointments it overlaps."""

    starts_at: datetime
    ends_at: datetime
    bookable: bool
    appointment_id: uuid.UUID | None = None
    problem: str | None = None
    detail: str | None = None
    conflicting_ids: list[uuid.UUID] = []


class SeriesPreview(BaseModel):
    rrule: str
    description: str
    time_zone: str
    occurrences: list[OccurrenceCheck]


class SeriesBooked(BaseModel):
    id: uuid.UUID
    rrule: str
    description: str
    time_zone: str
    first_start: datetime
    booked: list[AppointmentRead]
    skipped: list[OccurrenceCheck]


class SeriesCancel(AppointmentCancel):
    scope: Scope


class SeriesReschedule(Strict):
    """Move by ``shift_minutes``, or move this appointment to ``starts_at`` and the others
    of the scope by the same local (wall-clock) offset."""

    scope: Scope
    shift_minutes: int | None = Field(default=None, ge=-60 * 24 * 366, le=60 * 24 * 366)
    starts_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SeriesReschedule:
        if (self.shift_minutes is None) == (self.starts_at is None):
            raise ValueError("give either shift_minutes or starts_at")
        if self.shift_minutes == 0:
            raise ValueError("shift_minutes must not be 0")
        return self


class SeriesChanged(BaseModel):
    series_id: uuid.UUID
    scope: Scope
    changed: list[AppointmentRead]


class WaitlistWrite(Strict):
    patient_id: uuid.UUID
    type_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID | None = None
    earliest: Day
    latest: Day
    part_of_day: PartOfDay | None = None
    notes: SafeText = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _in_order(self) -> WaitlistWrite:
        if self.latest < self.earliest:
            raise ValueError("the latest date is before the earliest")
        return self


class WaitlistRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    type_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID | None
    earliest: date
    latest: date
    part_of_day: str | None
    notes: str | None
    status: str
    offered_provider_id: uuid.UUID | None
    offered_start: datetime | None
    offered_end: datetime | None
    offered_at: datetime | None
    created_at: datetime
    version: int


class WaitlistAccepted(BaseModel):
    entry: WaitlistRead
    appointment: AppointmentRead
