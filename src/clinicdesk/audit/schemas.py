"""What the audit report shows and how it is asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clinicdesk.core.actor import ActorKind
from clinicdesk.core.dates import Moment
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

SortField = Literal[
    "occurred_at",
    "seq",
    "actor_kind",
    "actor_user_id",
    "actor_roles",
    "client_addr",
    "request_id",
    "user_agent",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "outcome",
]


class AuditQuery(BaseModel):
    """Filters of the audit report, one per field of an entry; every one optional. Text
    filters match exactly, except ``user_agent`` (a part of it, any case) and ``role``
    (one of the actor's roles). An unknown parameter is refused (``extra="forbid"``),
    never ignored: a mistyped filter must not silently return the whole trail."""

    model_config = ConfigDict(extra="forbid")

    since: Moment | None = None
    until: Moment | None = None
    actor_kind: ActorKind | None = None
    user_id: uuid.UUID | None = None
    # A role name is matched inside the stored JSON list, so only its plain letters pass.
    role: str | None = Field(default=None, max_length=32, pattern=r"^[a-z_]+$")
    client_addr: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    user_agent: str | None = Field(default=None, max_length=300)
    patient_id: uuid.UUID | None = None
    action: str | None = Field(default=None, max_length=64)
    resource_type: str | None = Field(default=None, max_length=64)
    resource_id: str | None = Field(default=None, max_length=64)
    outcome: Literal["success", "failure", "denied"] | None = None
    sort: SortField = "occurred_at"
    order: Literal["asc", "desc"] = "desc"

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        """A filter left empty in the page's form arrives as ""; it means "any"."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

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


class AuditListQuery(AuditQuery):
    """The JSON report's parameters: the filters and the page."""

    cursor: str | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class AuditPageQuery(AuditQuery):
    """The report page's parameters: the filters and the page (its size is fixed)."""

    cursor: str | None = None


def filters_of(query: AuditQuery) -> AuditQuery:
    """Only the filters and order of ``query`` (without the page it asks for)."""
    return AuditQuery.model_validate(query.model_dump(include=set(AuditQuery.model_fields)))


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int | None = Field(
        description="Place in the organization's hash chain; empty for the moment between "
        "the entry's commit and its chaining step."
    )
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
