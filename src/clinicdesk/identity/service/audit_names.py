"""Identity's records named for the audit report (``audit.subjects``): users and
locations, each kind in one query."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.identity.models import Location, User, UserKind


async def name_users(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(select(User.id, User.full_name, User.kind).where(User.id.in_(ids)))
    return {
        row.id: audit.Subject(
            name=row.full_name if row.kind == UserKind.STAFF else f"{row.full_name} (portal)",
            href=f"/admin/users/{row.id}" if row.kind == UserKind.STAFF else None,
        )
        for row in rows
    }


async def name_locations(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(select(Location.id, Location.name).where(Location.id.in_(ids)))
    return {row.id: audit.Subject(name=row.name, href="/admin/organization") for row in rows}


def register() -> None:
    audit.register_namer("user", name_users)
    audit.register_namer("location", name_locations)
