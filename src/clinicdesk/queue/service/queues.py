"""Reading queues: who waits for whom, in which order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import utcnow
from clinicdesk.queue.models import Visit
from clinicdesk.queue.vocabulary import OPEN_STATUSES, VisitStatus


def queue_order(visit: Visit) -> tuple[int, datetime, int]:
    """Higher priority first, then who is due first (appointment time or arrival), then
    who checked in first."""
    return (-visit.priority, visit.order_key, visit.token_number)


async def waiting_in(
    session: AsyncSession,
    *,
    location_id: uuid.UUID,
    day: date,
    provider_id: uuid.UUID | None,
    lock: bool = False,
) -> list[Visit]:
    """The waiting patients of one queue (``provider_id`` None: the unassigned one), in
    queue order. ``lock``: for calling the next one; on PostgreSQL a row another desk is
    calling right now is skipped rather than waited for (SQLite serializes writers)."""
    statement = select(Visit).where(
        Visit.location_id == location_id,
        Visit.service_date == day,
        Visit.status == VisitStatus.WAITING,
        Visit.provider_id.is_(None) if provider_id is None else Visit.provider_id == provider_id,
    )
    statement = statement.order_by(Visit.priority.desc(), Visit.order_key, Visit.token_number)
    if lock:
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.scalars(statement)).all())


async def open_visits(session: AsyncSession, *, location_id: uuid.UUID, day: date) -> list[Visit]:
    """Everyone still in the building at the location today, in queue order."""
    rows = await session.scalars(
        select(Visit).where(
            Visit.location_id == location_id,
            Visit.service_date == day,
            Visit.status.in_(OPEN_STATUSES),
        )
    )
    return sorted(rows.all(), key=queue_order)


async def day_counts(session: AsyncSession, *, location_id: uuid.UUID, day: date) -> dict[str, int]:
    rows = await session.execute(
        select(Visit.status, func.count())
        .where(Visit.location_id == location_id, Visit.service_date == day)
        .group_by(Visit.status)
    )
    return {str(status): int(count) for status, count in rows}


def split_by_provider(visits: Sequence[Visit]) -> dict[uuid.UUID | None, list[Visit]]:
    queues: dict[uuid.UUID | None, list[Visit]] = {}
    for visit in visits:
        queues.setdefault(visit.provider_id, []).append(visit)
    return queues


async def busiest(session: AsyncSession, location_ids: Sequence[uuid.UUID]) -> uuid.UUID | None:
    """Of ``location_ids``, the one with the most patients in the building now (the
    screen to open when nobody chose one); None when nobody is anywhere."""
    rows = await session.execute(
        select(Visit.location_id, func.count())
        .where(
            Visit.location_id.in_(location_ids),
            Visit.status.in_(OPEN_STATUSES),
            Visit.status_link_expires_at > utcnow(),
        )
        .group_by(Visit.location_id)
    )
    counts = {location: int(count) for location, count in rows}
    return max(location_ids, key=lambda loc: counts.get(loc, 0)) if counts else None
