"""The one place that decides whether money may still be dated into a business day.

Day close (``day_close``) sums payments and refunds by ``business_date``, ``location_id``,
the user who took them (``taken_by_id`` / ``refunded_by_id``) and ``method``
(``ix_payments_day`` / ``ix_refunds_day`` serve that query). Once a day is closed its
totals must not move, so every use case that changes a day's money calls
``check_day_open`` first, inside its transaction:

* recording a payment: the payment's ``business_date`` (a back-dated payment names a
  past day);
* a refund: today, where the money leaves the drawer;
* voiding a payment: the payment's own ``business_date`` (its day's totals drop).

**Locking: counted or refused, never lost.** A day has no row until it is closed, so
there is nothing to lock with ``FOR SHARE`` while it is open. On PostgreSQL the day is an
advisory lock instead (``day_lock_key``): a money change takes it *shared* here and holds
it to its commit; ``day_close.close_day`` takes it *exclusive* before it sums. So a close
waits for every change already past this check, and its sums (a new statement, read
committed) see them; a change arriving while a close runs waits for the close to commit,
then reads the closing and is refused. A reopen takes the lock exclusively too, so a
change waiting on it reads the day open once it commits. On SQLite every writing
transaction begins ``IMMEDIATE`` (one writer at a time), which serializes the same way.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.day_close_models import NO_LOCATION, DayClosing
from clinicdesk.billing.errors import DayClosed
from clinicdesk.core.tenancy import current_tenant

MoneyChange = Literal["payment", "refund", "void"]

WHAT_TO_DO: dict[MoneyChange, str] = {
    "payment": "Record the payment on an open day: leave the received time empty to take it today.",
    "refund": "Refunds at this location start again on the next business day.",
    "void": "Refund the payment instead (a refund is counted today, not on its closed day).",
}


def day_lock_key(organization_id: uuid.UUID, location_key: uuid.UUID, day: date) -> int:
    """A stable signed 64-bit key of one location's business day for PostgreSQL's
    advisory locks (a collision only makes two days wait for each other)."""
    digest = hashlib.blake2b(
        f"day-close:{organization_id}:{location_key}:{day.isoformat()}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_day(
    session: AsyncSession, *, business_date: date, location_id: uuid.UUID | None, exclusive: bool
) -> None:
    """Take the day's advisory lock until the transaction ends (PostgreSQL; SQLite's
    writer already holds the database)."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    key = day_lock_key(current_tenant(session), location_id or NO_LOCATION, business_date)
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    await session.execute(select(lock(key)))


async def closing_of(
    session: AsyncSession, *, business_date: date, location_id: uuid.UUID | None
) -> DayClosing | None:
    """The day's closing in force (a reopened closing is history: the day is open)."""
    return await session.scalar(
        select(DayClosing).where(
            DayClosing.business_date == business_date,
            DayClosing.location_key == (location_id or NO_LOCATION),
            DayClosing.reopened_at.is_(None),
        )
    )


async def closings_of(
    session: AsyncSession, *, business_date: date, location_id: uuid.UUID | None
) -> list[DayClosing]:
    """Every closing of the day, oldest first (reopened ones and the one in force)."""
    found = await session.scalars(
        select(DayClosing)
        .where(
            DayClosing.business_date == business_date,
            DayClosing.location_key == (location_id or NO_LOCATION),
        )
        .order_by(DayClosing.closed_at, DayClosing.id)
    )
    return list(found)


async def check_day_open(
    session: AsyncSession,
    *,
    business_date: date,
    location_id: uuid.UUID | None,
    change: MoneyChange,
) -> None:
    """Raise ``billing.errors.DayClosed`` when ``business_date`` is closed at
    ``location_id`` (the money taken with no location is a drawer of its own). Holds
    the day's shared lock to the commit (see the module)."""
    await lock_day(session, business_date=business_date, location_id=location_id, exclusive=False)
    closing = await closing_of(session, business_date=business_date, location_id=location_id)
    if closing is None:
        return
    where = "at this location" if location_id is not None else "for money taken with no location"
    raise DayClosed(
        f"The business day {business_date.isoformat()} is closed {where} "
        f"(closed {closing.closed_at:%Y-%m-%d %H:%M} UTC); its totals can no longer change. "
        f"{WHAT_TO_DO[change]}"
    )
