"""Request and response shapes of day close. Money is an integer of the currency's minor
unit, as everywhere in billing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clinicdesk.billing.schemas import Amount
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.core.schemas import SafeText, Strict


class MethodCount(Strict):
    """What was counted for one method: the cash in the drawer, the card terminal's batch
    total; for another method, left out, the system's figure is taken."""

    method: PaymentMethod
    amount: Amount
    reason: SafeText = Field(
        default=None, max_length=500, description="Required when it differs from expected."
    )


class DayCloseRequest(Strict):
    """Close ``location_id``'s business day (left out: the money taken with no location).
    Cash and card must be counted when the day moved money by them."""

    location_id: uuid.UUID | None = None
    counted: list[MethodCount] = Field(default_factory=list, max_length=10)
    note: SafeText = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _distinct(self) -> DayCloseRequest:
        methods = [c.method for c in self.counted]
        if len(methods) != len(set(methods)):
            raise ValueError("Each method appears at most once.")
        return self


class DayReopenRequest(Strict):
    """Reopen ``location_id``'s closed business day (left out: the money taken with no
    location); the reason stays with the day's closings."""

    location_id: uuid.UUID | None = None
    reason: str = Field(min_length=1, max_length=500, description="Why (at least 15 characters).")


class FiguresRead(BaseModel):
    method: str
    user_id: uuid.UUID | None = None
    user_name: str | None = None
    payments: int = Field(description="How many payments (voided ones left out).")
    received: int
    refunded: int
    expected: int = Field(description="received - refunded")


class ClosingLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    method: str
    user_id: uuid.UUID | None
    received: int
    refunded: int
    expected: int
    counted: int | None = Field(description="Per method only; per user lines have none.")
    difference: int | None = Field(description="counted - expected")
    reason: str | None


class ClosingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    business_date: date
    location_id: uuid.UUID | None
    currency: str
    closed_at: datetime
    closed_by_id: uuid.UUID | None
    expected_total: int
    counted_total: int
    difference_total: int
    note: str | None
    reopened_at: datetime | None = None
    reopened_by_id: uuid.UUID | None = None
    reopen_reason: str | None = None


class ClosingEntryRead(ClosingRead):
    closed_by_name: str | None = None
    reopened_by_name: str | None = None


class ClosingDetail(ClosingRead):
    closed_by_name: str | None = None
    lines: list[ClosingLineRead]


class DaySummaryRead(BaseModel):
    """The day's expected money (the X report); ``closing`` once the day is closed."""

    business_date: date
    location_id: uuid.UUID | None
    location_name: str | None
    currency: str
    closed: bool
    expected_total: int
    methods: list[FiguresRead]
    users: list[FiguresRead]
    closing: ClosingDetail | None = None
    history: list[ClosingEntryRead] = Field(
        default_factory=list,
        description="Every closing of the day, oldest first: reopened ones and the one in force.",
    )


class ClosingList(BaseModel):
    items: list[ClosingRead]
    next_cursor: str | None = None
