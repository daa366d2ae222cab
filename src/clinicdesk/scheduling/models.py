"""Tables of the scheduling domain: providers and their hours, appointment types,
appointments and series, the waitlist."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity, IdMixin
from clinicdesk.core.tenancy import TenantScoped
from clinicdesk.scheduling.vocabulary import AppointmentStatus, WaitlistStatus


class Provider(Base, Entity, TenantScoped):
    """A staff user who sees patients, with what the schedule needs to know of them."""

    __tablename__ = "providers"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    display_name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(100), default=None)
    license_number: Mapped[str | None] = mapped_column(String(64), default=None)
    default_duration_minutes: Mapped[int] = mapped_column(Integer, default=15)
    color: Mapped[str] = mapped_column(String(7), default="#2563eb")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The private calendar feed: only the hash of its secret is kept; a new secret
    # revokes the old link.
    feed_token_hash: Mapped[str | None] = mapped_column(
        String(64), default=None, info={"audit": "secret"}
    )

    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        Index("ix_providers_feed_token_hash", "feed_token_hash", unique=True),
    )


class ProviderLocation(Base, IdMixin, TenantScoped):
    """Where a provider works."""

    __tablename__ = "provider_locations"

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("provider_id", "location_id"),)


class WeeklyHours(Base, Entity, TenantScoped):
    """One block of a provider's regular week at a location, in the location's local
    time (several blocks a day: morning and afternoon)."""

    __tablename__ = "provider_weekly_hours"

    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date | None] = mapped_column(Date, default=None)
    valid_until: Mapped[date | None] = mapped_column(Date, default=None)


class HoursException(Base, Entity, TenantScoped):
    """A date that differs from the regular week: a provider's time off or extra hours,
    or (``provider_id`` empty) a holiday of a whole location."""

    __tablename__ = "hours_exceptions"

    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), default=None, index=True
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), default=None, index=True
    )
    on_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))  # "off" | "extra"
    start_time: Mapped[time | None] = mapped_column(Time, default=None)
    end_time: Mapped[time | None] = mapped_column(Time, default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)


class AppointmentType(Base, Entity, TenantScoped):
    __tablename__ = "appointment_types"

    name: Mapped[str] = mapped_column(String(100))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(7), default="#0f766e")
    online_bookable: Mapped[bool] = mapped_column(Boolean, default=False)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("organization_id", "name"),)


class AppointmentSeries(Base, Entity, TenantScoped):
    """A recurring booking: its rule (RFC 5545 RRULE) and the local wall-clock start."""

    __tablename__ = "appointment_series"

    rrule: Mapped[str] = mapped_column(String(200))
    first_start: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(64))


class Appointment(Base, Entity, TenantScoped):
    """A booking of a patient with a provider at a location.

    ``busy_until`` is the end plus the type's buffer: the provider's time the booking
    takes. No two active, non-overbooked appointments of one provider may have
    overlapping ``[starts_at, busy_until)``; on PostgreSQL an exclusion constraint says
    so (migration 0004), on SQLite the booking transaction checks under the write lock.
    """

    __tablename__ = "appointments"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="RESTRICT")
    )
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_series.id", ondelete="SET NULL"), default=None, index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    busy_until: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=AppointmentStatus.BOOKED)
    # True when the slot blocks the provider (not cancelled or no-show); kept by the
    # service so the exclusion constraint and the overlap query use one plain column.
    holds_slot: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    overbooked: Mapped[bool] = mapped_column(Boolean, default=False)
    overbook_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    booked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    booked_via: Mapped[str] = mapped_column(String(16), default="staff")
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    cancel_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    # What "undo" restores: the status before the last cancel / no-show, and when.
    previous_status: Mapped[str | None] = mapped_column(String(16), default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the patient said they will come (a reply to a reminder, a link in an e-mail).
    patient_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The chance the patient does not come (notifications' no-show model), written when
    # booked and rescored nightly; derived, so not in the audit trail and no new version.
    no_show_risk: Mapped[float | None] = mapped_column(
        Float, default=None, info={"audit": "derived"}
    )

    __table_args__ = (
        Index("ix_appointments_provider_time", "provider_id", "starts_at"),
        Index("ix_appointments_location_time", "location_id", "starts_at"),
        Index("ix_appointments_patient_time", "patient_id", "starts_at"),
    )


class WaitlistEntry(Base, Entity, TenantScoped):
    """A patient waiting for an earlier or any slot with a provider / of a type."""

    __tablename__ = "waitlist_entries"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), default=None
    )
    type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="RESTRICT")
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="RESTRICT"))
    earliest: Mapped[date] = mapped_column(Date)
    latest: Mapped[date] = mapped_column(Date)
    part_of_day: Mapped[str | None] = mapped_column(String(16), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.WAITING)
    offered_provider_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    offered_start: Mapped[datetime | None] = mapped_column(default=None)
    offered_end: Mapped[datetime | None] = mapped_column(default=None)
    offered_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_waitlist_status_created", "organization_id", "status", "created_at"),
    )


class BookingPolicy(Base, Entity, TenantScoped):
    """The organization's rules for patients booking themselves in the portal."""

    __tablename__ = "booking_policies"

    # How long before the appointment it may be booked or moved at the latest.
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    # How far ahead patients may book.
    max_days_ahead: Mapped[int] = mapped_column(Integer, default=60)
    # Until how long before the start patients may cancel or move it themselves.
    cancel_window_hours: Mapped[int] = mapped_column(Integer, default=24)
    # Appointments a patient may hold at once through the portal.
    max_open_bookings: Mapped[int] = mapped_column(Integer, default=3)

    __table_args__ = (UniqueConstraint("organization_id"),)
