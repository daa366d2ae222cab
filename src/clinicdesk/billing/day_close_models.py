"""Tables of day close: a closed business day of one location (``DayClosing``) and its
lines (``DayClosingLine``), each method's and each user's figures.

A closing is written once, when the day is closed, and its figures never change: no
service deletes these rows or touches their amounts. An admin who reopens the day stamps
the closing ``reopened_at`` / ``reopened_by_id`` / ``reopen_reason`` (it stays as the
day's history) and the next close writes a new closing; so a day has any number of
closings, at most one of them in force (not reopened: a partial unique index). Money is
``BigInteger`` minor units of ``currency``. ``location_key`` is the location's id, or the
nil UUID for the money taken with no location, so that one unique index holds for both
(NULLs are distinct in a unique index).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

Money = BigInteger
# The drawer of the money taken with no location.
NO_LOCATION = uuid.UUID(int=0)
# The closing in force: not reopened (the condition of the one-per-day index).
IN_FORCE = text("reopened_at IS NULL")


class DayClosing(Base, Entity, TenantScoped):
    """One location's business day, closed: who closed it, when, and the totals; once
    reopened, who reopened it, when and why (the closing in force is the one with no
    ``reopened_at``)."""

    __tablename__ = "day_closings"

    business_date: Mapped[date] = mapped_column(Date)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), default=None
    )
    location_key: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(String(3))
    closed_at: Mapped[datetime]
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    expected_total: Mapped[int] = mapped_column(Money)
    counted_total: Mapped[int] = mapped_column(Money)
    difference_total: Mapped[int] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    reopened_at: Mapped[datetime | None] = mapped_column(default=None)
    reopened_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reopen_reason: Mapped[str | None] = mapped_column(String(500), default=None)

    __table_args__ = (
        Index(
            "uq_day_closings_day_in_force",
            "organization_id",
            "location_key",
            "business_date",
            unique=True,
            sqlite_where=IN_FORCE,
            postgresql_where=IN_FORCE,
        ),
        Index("ix_day_closings_date", "organization_id", "business_date"),
    )


class DayClosingLine(Base, Entity, TenantScoped):
    """One method's figures of a closed day (``user_id`` empty), or one user's part of a
    method (``user_id`` set; counted only per method, so those lines carry the expected
    figures alone).

    ``expected = received - refunded`` (voided payments left out); ``difference =
    counted - expected``, with its ``reason`` whenever it is not zero."""

    __tablename__ = "day_closing_lines"

    closing_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("day_closings.id", ondelete="RESTRICT")
    )
    method: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    received: Mapped[int] = mapped_column(Money)
    refunded: Mapped[int] = mapped_column(Money)
    expected: Mapped[int] = mapped_column(Money)
    counted: Mapped[int | None] = mapped_column(Money, default=None)
    difference: Mapped[int | None] = mapped_column(Money, default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)

    __table_args__ = (Index("ix_day_closing_lines_closing", "closing_id"),)
