"""Tables of the front-desk queue: visits and their steps, provider status, waiting-room
displays."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity, IdMixin, TimestampMixin
from clinicdesk.core.tenancy import TenantScoped
from clinicdesk.queue.vocabulary import ProviderState, VisitStatus


class Visit(Base, Entity, TenantScoped):
    """A patient's stay at a location on one day, from check-in to done (or left).

    ``provider_id`` empty: a walk-in in the location's unassigned queue. ``order_key`` is
    when the patient is due: the appointment's start for a booked patient, the arrival for
    a walk-in; the queue is ordered by priority, then ``order_key``, then token.
    The step columns (``called_at`` ...) hold the latest time of each step; the full
    timeline, with repeats, is in ``visit_steps``.
    """

    __tablename__ = "visits"

    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), default=None
    )
    type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="RESTRICT"), default=None
    )
    service_date: Mapped[date] = mapped_column(Date)
    token: Mapped[str] = mapped_column(String(12))
    token_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.WAITING)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    order_key: Mapped[datetime]
    room: Mapped[str | None] = mapped_column(String(40), default=None)
    note: Mapped[str | None] = mapped_column(String(300), default=None)
    arrived_at: Mapped[datetime]
    called_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_in_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # The patient's private status link: only the hash of its secret is kept; it stops
    # working at ``status_link_expires_at`` (the end of the day at the location).
    status_link_hash: Mapped[str | None] = mapped_column(
        String(64), default=None, info={"audit": "secret"}
    )
    status_link_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The patient asked, on their status page, for a text when their turn is near (they
    # wait outside); notifications sends it.
    text_when_near: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )

    __table_args__ = (
        UniqueConstraint("location_id", "service_date", "token_number"),
        UniqueConstraint("appointment_id"),
        Index("ix_visits_location_day_status", "location_id", "service_date", "status"),
        Index("ix_visits_provider_finished", "provider_id", "finished_at"),
        Index("ix_visits_status_link_hash", "status_link_hash", unique=True),
    )


class VisitStepRecord(Base, IdMixin, TenantScoped):
    """One step of a visit: what happened, when, by whom (the audit trail says it too;
    this is the timeline the screens and reports read)."""

    __tablename__ = "visit_steps"

    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("providers.id", ondelete="SET NULL"), default=None
    )
    room: Mapped[str | None] = mapped_column(String(40), default=None)
    detail: Mapped[str | None] = mapped_column(String(300), default=None)


class ProviderStatus(Base, Entity, TenantScoped):
    """What a provider is doing now, shown on the queue screens and used by the wait
    estimates. One row per provider, created on the first change."""

    __tablename__ = "provider_statuses"

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=ProviderState.AVAILABLE)
    since: Mapped[datetime]
    # When they are expected back (break, away, in transit); empty when unknown.
    eta_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(200), default=None)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (UniqueConstraint("provider_id"),)


class QueueDisplay(Base, Entity, TenantScoped):
    """A waiting-room screen of a location. It signs in with nothing but its link's
    secret (only the hash is kept); revoking empties the hash and the screen goes dark."""

    __tablename__ = "queue_displays"

    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str | None] = mapped_column(
        String(64), default=None, info={"audit": "secret"}
    )
    # Off by default: a display shows tokens and rooms only. On: also the patient's
    # initials, for clinics that want them.
    show_initials: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_queue_displays_secret_hash", "secret_hash", unique=True),)


class ProviderRoom(Base, IdMixin, TimestampMixin, TenantScoped):
    """The room a provider last called a patient to at a location: what their next call
    there offers first. Kept on the server, so it follows the provider to any device."""

    __tablename__ = "provider_rooms"

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    room: Mapped[str] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("provider_id", "location_id"),)
