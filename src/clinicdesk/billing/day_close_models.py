"""Tables of day close: a closed business day of one location (``DayClosing``) and its
lines (``DayClosingLine``), each method's and each user's figures.

A closing is written once, when the day is closed, and never changed: no service updates
or deletes these rows (there is no reopen). Money is ``BigInteger`` minor units of
``currency``. ``location_key`` is the location's id, or the nil UUID for the money taken
with no location, so that one unique index holds for both (NULLs are distinct in a
unique index).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

Money = BigInteger
# The drawer of the money taken with no location.
NO_LOCATION = uuid.UUID(int=0)


class DayClosing(Base, Entity, TenantScoped):
    """One location's business day, closed: who closed it, when, and the totals."""

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

    __table_args__ = (
        UniqueConstraint(
            "organization_id", "location_key", "business_date", name="uq_day_closings_day"
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
