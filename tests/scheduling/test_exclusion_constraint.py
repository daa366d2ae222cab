"""On PostgreSQL the database itself refuses overlapping bookings of one provider, even
from code that skips the service's check; cancelled and overbooked rows are exempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.scheduling.models import Appointment
from tests.support.scheduling import Book

START = datetime(2031, 3, 3, 9, tzinfo=UTC)


def row(b: Book, start: datetime, **extra: object) -> Appointment:
    end = start + timedelta(minutes=30)
    return Appointment(
        patient_id=b.patient_id,
        provider_id=b.provider_id,
        location_id=b.location_id,
        type_id=b.type_id,
        starts_at=start,
        ends_at=end,
        busy_until=end,
        **extra,
    )


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_overlapping_rows_are_refused_by_the_database(
    session: AsyncSession, clinic: Organization, book: Book
) -> None:
    session.add(row(book, START))
    await session.flush()
    session.add(row(book, START + timedelta(minutes=30)))  # back to back: fine
    session.add(row(book, START + timedelta(minutes=5), holds_slot=False, status="cancelled"))
    session.add(row(book, START + timedelta(minutes=10), overbooked=True))
    await session.flush()
    savepoint = await session.begin_nested()
    session.add(row(book, START + timedelta(minutes=15)))
    with pytest.raises(IntegrityError, match="ex_appointments_provider_busy"):
        await session.flush()
    await savepoint.rollback()
