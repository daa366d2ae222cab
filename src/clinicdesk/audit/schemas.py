"""What the audit report shows and how it is asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clinicdesk.core.dates import Moment

SortField = Literal[
    "occurred_at", "action", "outcome", "actor_user_id", "resource_type", "patient_id"
]


class AuditQuery(BaseModel):
    """Filters of the audit report; every one optional."""

    model_config = ConfigDict(extra="forbid")

    since: Moment | None = None
    until: Moment | None = None
    user_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    action: str | None = Field(default=None, max_length=64)
    resource_type: str | None = Field(default=None, max_length=64)
    resource_id: str | None = Field(default=None, max_length=64)
    outcome: Literal["success", "failure", "denied"] | None = None
    sort: SortField = "occurred_at"
    order: Literal["asc", "desc"] = "desc"

    @field_validator("since", "until")
    @classmethod
    def _utc_unless_stated(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is taken as UTC, marked by the ``datetime.UTC``
        singleton (pydantic gives a parsed "Z" or "+00:00" its own tzinfo object), so
        ``in_zone`` can tell it from a time stated in UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def in_zone(self, zone: tzinfo) -> AuditQuery:
        """The same query with offset-less times read as wall-clock time in ``zone``
        (what a person types into a date-time field)."""
        return self.model_copy(
            update={
                name: value.replace(tzinfo=zone)
                for name in ("since", "until")
                if (value := getattr(self, name)) is not None and value.tzinfo is UTC
            }
        )


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    occurred_at: datetime
    organization_id: uuid.UUID | None
    actor_kind: str
    actor_user_id: uuid.UUID | None
    actor_roles: list[str]
    client_addr: str | None
    user_agent: str | None
    request_id: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    patient_id: uuid.UUID | None
    outcome: str
    changes: dict[str, Any] | None
    details: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None
