"""Visits named for the audit report (``audit.subjects``): by their queue number and
arrival (the report's patient column names whose)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.queue.models import Visit


async def name_visits(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(
        select(Visit.id, Visit.token, Visit.arrived_at).where(Visit.id.in_(ids))
    )
    return {row.id: audit.Subject(name=f"Visit {row.token}", at=row.arrived_at) for row in rows}


def register() -> None:
    audit.register_namer("visit", name_visits)
