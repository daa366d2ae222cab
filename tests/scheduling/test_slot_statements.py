"""A location's slot search reads every provider's hours and appointments at once, and
finds what asking provider by provider finds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    HoursBlock,
    ProviderWrite,
    SlotQuery,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import booking, setup
from clinicdesk.scheduling.service.slots import find_slots
from tests.support.identity import create_user
from tests.support.scheduling import make_book
from tests.support.sql import statements_of


async def test_any_provider_slots_take_three_statements_and_match_each_provider_s(
    session: AsyncSession, clinic: Organization
) -> None:
    book = await make_book(session, clinic)
    providers = [book.provider_id]
    # Three more doctors: one starts at 07:00, one works afternoons, one only on Tuesdays.
    for name, hours in [
        ("Dr. Early", [(time(7), time(11))]),
        ("Dr. Late", [(time(13), time(18))]),
        ("Dr. Tue", [(time(9), time(10))]),
    ]:
        doctor = await create_user(session, clinic, Role.DOCTOR)
        provider = await setup.create_provider(
            session,
            actor=SYSTEM,
            data=ProviderWrite(
                user_id=doctor.id, display_name=name, location_ids=[book.location_id]
            ),
        )
        days = [1] if name == "Dr. Tue" else range(5)
        blocks = [
            HoursBlock(location_id=book.location_id, weekday=d, start_time=s, end_time=e)
            for d in days
            for s, e in hours
        ]
        await setup.set_weekly_hours(
            session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=blocks)
        )
        providers.append(provider.id)
    # Dr. Early's first hour on Monday is taken.
    await booking.book(
        session,
        actor=SYSTEM,
        data=AppointmentCreate(
            patient_id=book.patient_id,
            provider_id=providers[1],
            location_id=book.location_id,
            type_id=book.type_id,
            starts_at=datetime.combine(book.monday, time(7), tzinfo=UTC),
        ),
    )
    await session.commit()

    def query(provider_id: uuid.UUID | None = None, limit: int = 30) -> SlotQuery:
        return SlotQuery(
            type_id=book.type_id,
            location_id=book.location_id,
            provider_id=provider_id,
            start=book.monday,
            end=book.monday + timedelta(days=6),
            limit=limit,
        )

    with statements_of(session) as seen:
        together = await find_slots(session, query=query())
    for table in ("provider_weekly_hours", "hours_exceptions", "appointments"):
        assert len([s for s in seen if f"FROM {table}" in s]) == 1, (table, seen)

    one_by_one = [slot for p in providers for slot in await find_slots(session, query=query(p))]
    one_by_one.sort(key=lambda s: (s.starts_at, str(s.provider_id)))
    assert together == one_by_one[:30]
    assert {s.provider_id for s in together} >= {providers[0], providers[1]}
    monday_7 = datetime.combine(book.monday, time(7), tzinfo=UTC)
    assert all(
        s.starts_at >= monday_7 + timedelta(minutes=40)
        for s in together
        if s.provider_id == providers[1] and s.starts_at.date() == book.monday
    )
