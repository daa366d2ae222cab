"""Scheduling test helpers: a bookable clinic (the ``book`` fixture lives in
tests/scheduling/conftest.py) and request builders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.schemas import (
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import setup
from tests.support.identity import create_user
from tests.support.patients import register_patient


@dataclass
class Book:
    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    patient_id: uuid.UUID
    other_patient_id: uuid.UUID
    monday: date


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday() + 7)


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


async def make_book(session: AsyncSession, clinic: Organization) -> Book:
    """A doctor working Mon-Fri 08:00-12:00 and 13:00-17:00 (UTC) at one location, a
    30-minute type with a 10-minute buffer, two patients."""
    doctor = await create_user(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Main")
    )
    provider = await setup.create_provider(
        session,
        actor=SYSTEM,
        data=ProviderWrite(user_id=doctor.id, display_name="Dr. Dee", location_ids=[location.id]),
    )
    blocks = [
        HoursBlock(location_id=location.id, weekday=d, start_time=s, end_time=e)
        for d in range(5)
        for s, e in ((time(8), time(12)), (time(13), time(17)))
    ]
    await setup.set_weekly_hours(
        session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=blocks)
    )
    kind = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(
            name="Consultation", duration_minutes=30, buffer_after_minutes=10
        ),
    )
    patients = [
        await register_patient(
            session, given_name=g, family_name="Book", birth_date=date(1980, 1, 1)
        )
        for g in ("Ann", "Ben")
    ]
    await session.commit()
    return Book(provider.id, location.id, kind.id, patients[0].id, patients[1].id, next_monday())


def request(b: Book, start: str, **extra: object) -> dict[str, object]:
    return {
        "patient_id": str(b.patient_id),
        "provider_id": str(b.provider_id),
        "location_id": str(b.location_id),
        "type_id": str(b.type_id),
        "starts_at": start,
        **extra,
    }
