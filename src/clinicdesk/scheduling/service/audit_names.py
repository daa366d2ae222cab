"""Scheduling's records named for the audit report (``audit.subjects``): appointments
(by their time; the report's patient column names whose) and providers."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.scheduling.models import Appointment, Provider


async def name_appointments(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(
        select(Appointment.id, Appointment.starts_at).where(Appointment.id.in_(ids))
    )
    return {
        row.id: audit.Subject(
            name="Appointment", href=f"/calendar/appointments/{row.id}", at=row.starts_at
        )
        for row in rows
    }


async def name_providers(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(
        select(Provider.id, Provider.display_name).where(Provider.id.in_(ids))
    )
    return {row.id: audit.Subject(name=row.display_name) for row in rows}


def register() -> None:
    audit.register_namer("appointment", name_appointments)
    audit.register_namer("provider", name_providers)
