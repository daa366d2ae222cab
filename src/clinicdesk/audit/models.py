"""Audit tables. ``audit_events`` is append-only: on PostgreSQL the application role may
only SELECT and INSERT it, and fill in an entry's place in its chain once (a trigger
refuses any change to a chained entry). Each organization's events form a hash chain
whose head (last sequence number and hash) lives in ``audit_chain_heads``."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, IdMixin, utcnow
from clinicdesk.core.tenancy import TenantScoped

# Events that belong to no organization (a failed sign-in for an unknown address) chain
# under this id.
INSTALLATION_CHAIN = uuid.UUID(int=0)
GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEvent(Base, IdMixin, TenantScoped):
    __tablename__ = "audit_events"
    # May be NULL (see INSTALLATION_CHAIN); tenant sessions still only ever see their own.
    __tenant_optional__ = True

    organization_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=True
    )
    chain_id: Mapped[uuid.UUID]
    # The entry's place in its chain: empty from the insert until the chaining step just
    # after its transaction commits (audit.chaining), then never changed again.
    seq: Mapped[int | None] = mapped_column(Integer, default=None)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)

    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64), default=None)
    resource_id: Mapped[str | None] = mapped_column(String(64), default=None)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.SUCCESS)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (
        UniqueConstraint("chain_id", "seq"),
        Index("ix_audit_events_organization_id_occurred_at", "organization_id", "occurred_at"),
        Index("ix_audit_events_patient_id", "patient_id"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        # A record's history (a note's versions): ``report.resource_trail``.
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
        # The chaining step's queue: only entries still waiting are in it.
        Index(
            "ix_audit_events_waiting",
            "chain_id",
            "occurred_at",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
    )


class AuditChainHead(Base):
    """The end of one chain. Only the chaining step locks this row (for a few
    milliseconds, after the requests that wrote the entries have committed), so entries
    of one organization are chained one after another without requests waiting."""

    __tablename__ = "audit_chain_heads"

    chain_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
