"""How far the schedule's set-up has come: who sees patients, whether each has working
hours, and the appointment types. Reads only; the admin's home turns it into a
checklist."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.scheduling.models import AppointmentType, Provider, WeeklyHours
from clinicdesk.scheduling.service.setup import list_providers


@dataclass(frozen=True, slots=True)
class ScheduleSetup:
    providers: list[Provider]  # the active ones, by name
    without_hours: list[Provider] = field(default_factory=list)
    types: int = 0  # active appointment types


async def schedule_setup(session: AsyncSession) -> ScheduleSetup:
    """Active providers, those of them with no weekly hours (nobody can book them), and
    how many appointment types can be booked."""
    providers = await list_providers(session)
    with_hours = set((await session.scalars(select(WeeklyHours.provider_id).distinct())).all())
    types = await session.scalar(
        select(func.count()).select_from(AppointmentType).where(AppointmentType.is_active.is_(True))
    )
    return ScheduleSetup(
        providers=providers,
        without_hours=[p for p in providers if p.id not in with_hours],
        types=int(types or 0),
    )
