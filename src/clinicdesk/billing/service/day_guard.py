"""The one place that decides whether money may still be dated into a business day.

Day close (built later) sums payments and refunds by ``business_date``, ``location_id``,
the user who took them (``taken_by_id`` / ``refunded_by_id``) and ``method``
(``ix_payments_day`` / ``ix_refunds_day`` serve that query). Once a day is closed its
totals must not move, so every use case that changes a day's money calls
``check_day_open`` first, inside its transaction:

* recording a payment: the payment's ``business_date`` (a back-dated payment names a
  past day);
* a refund: today, where the money leaves the drawer;
* voiding a payment: the payment's own ``business_date`` (its day's totals drop).

**Today this allows everything**: no day is closed yet. Day close fills the body: look up
the closing of ``(business_date, location_id)``, taking a shared lock on it (``FOR SHARE``
on PostgreSQL) so that a close committing meanwhile waits for this payment or sees it,
and raise ``DayClosed`` if the day is closed.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

MoneyChange = Literal["payment", "refund", "void"]


async def check_day_open(
    session: AsyncSession,
    *,
    business_date: date,
    location_id: uuid.UUID | None,
    change: MoneyChange,
) -> None:
    """Raise ``billing.errors.DayClosed`` when ``business_date`` is closed at
    ``location_id``. Allows every day until day close exists (see the module)."""
    del session, business_date, location_id, change
