"""The staff's alerts as the API and the pages hand them out, and their vocabulary."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

# The live events of alerts (``notifications.live`` says who hears them).
RAISED = "alert.raised"
READ = "alert.read"


class AlertKind(StrEnum):
    RESULT_TO_REVIEW = "result_to_review"
    PATIENT_REPLIED = "patient_replied"
    MESSAGE_FAILED = "message_failed"
    WAITLIST_SLOT_TAKEN = "waitlist_slot_taken"
    NOTICE = "notice"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    AlertKind.RESULT_TO_REVIEW: "Result to review",
    AlertKind.PATIENT_REPLIED: "Patient replied",
    AlertKind.MESSAGE_FAILED: "Message failed",
    AlertKind.WAITLIST_SLOT_TAKEN: "Waitlist slot taken",
    AlertKind.NOTICE: "Notice",
}


class AlertRead(BaseModel):
    """One alert as its reader sees it (``read_at``: when *they* read it)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: AlertKind
    title: str
    body: str | None
    link: str | None
    patient_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None
    unread: int  # all the caller's unread alerts, not only this page's


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int
