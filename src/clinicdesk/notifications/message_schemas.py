"""What the notification API and pages take and give: settings, templates, messages."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clinicdesk.notifications.kernel.templating import BODY_MAX, SUBJECT_MAX
from clinicdesk.notifications.kernel.timing import parse_clock
from clinicdesk.notifications.vocabulary import Channel, MessageStatus, Purpose

MAX_LEAD_MINUTES = 14 * 24 * 60
MIN_LEAD_MINUTES = 15


def _check_leads(leads: list[int]) -> list[int]:
    for lead in leads:
        if not MIN_LEAD_MINUTES <= lead <= MAX_LEAD_MINUTES:
            raise ValueError(
                f"a reminder {lead} minutes before is out of range: use "
                f"{MIN_LEAD_MINUTES} minutes to 14 days"
            )
    if len(set(leads)) != len(leads):
        raise ValueError("the same reminder time is listed twice")
    return sorted(leads, reverse=True)


class NotificationSettingsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reminder_leads: list[int] = Field(max_length=4)
    quiet_start: str
    quiet_end: str
    grace_seconds: int = Field(ge=0, le=3600)
    daily_limit: int = Field(ge=1, le=20)
    channels: list[Channel] = Field(min_length=1, max_length=3)
    extra_reminder_for_high_risk: bool = True
    type_leads: dict[uuid.UUID, list[int]] = Field(default_factory=dict)

    @field_validator("reminder_leads")
    @classmethod
    def _leads(cls, value: list[int]) -> list[int]:
        return _check_leads(value)

    @field_validator("type_leads")
    @classmethod
    def _type_leads(cls, value: dict[uuid.UUID, list[int]]) -> dict[uuid.UUID, list[int]]:
        return {key: _check_leads(leads) for key, leads in value.items()}

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        return parse_clock(value).strftime("%H:%M")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value


class NotificationSettingsView(NotificationSettingsWrite):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    version: int
    updated_at: datetime | None = None


class TemplateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=SUBJECT_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX * 2)


class TemplateView(BaseModel):
    purpose: str
    channel: str
    language: str
    subject: str | None
    body: str
    customized: bool
    version: int | None = None


class PreviewView(BaseModel):
    subject: str | None
    body: str


class TestSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    to: str = Field(min_length=3, max_length=254)
    language: str = Field(default="en", max_length=8)


class MessageView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    purpose: str
    channel: str
    language: str
    status: str
    status_reason: str | None
    due_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    attempts: int
    last_error: str | None
    provider: str | None
    created_at: datetime


# --- the messages log and the operations figures (admin pages and API) ------------------


class MessageFilters(BaseModel):
    """Which messages a log shows; the dates are days in the organization's time zone
    (``date_from`` and ``date_to`` both included), by when the message was written."""

    model_config = ConfigDict(extra="forbid")

    status: MessageStatus | None = None
    channel: Channel | None = None
    purpose: Purpose | None = None
    patient_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


class MessageRow(MessageView):
    """A line of the log: the message and whom it was for."""

    patient_name: str | None = None


class MessagePage(BaseModel):
    items: list[MessageRow]
    next_cursor: str | None


class MessageDetail(MessageRow):
    """One message with what it said (patient data: reading it is audited)."""

    address: str
    subject: str | None
    body: str | None
    lead_minutes: int | None
    planned_for: datetime | None
    sending_at: datetime | None
    updated_at: datetime


class MessageFigures(BaseModel):
    """What an operator watches: messages waiting, failures of the last day, and how long
    the oldest message that is due has waited (None when none is due)."""

    queued: int
    failed_24h: int
    oldest_due_queued_seconds: float | None


class ChannelCheck(BaseModel):
    channel: Channel
    ok: bool
    detail: str
