"""Reading the appointment book: a range of appointments for a calendar view."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.scheduling.errors import BookingRefused
from clinicdesk.scheduling.models import Appointment

MAX_RANGE = timedelta(days=62)


async def appointments_between(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    provider_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> list[Appointment]:
    """Appointments starting in ``[start, end)``, oldest first."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BookingRefused("Give start and end with their UTC offset.")
    if end <= start or end - start > MAX_RANGE:
        raise BookingRefused("Ask for a range of up to 62 days, end after start.")
    statement = select(Appointment).where(
        Appointment.starts_at >= start, Appointment.starts_at < end
    )
    if provider_id is not None:
        statement = statement.where(Appointment.provider_id == provider_id)
    if location_id is not None:
        statement = statement.where(Appointment.location_id == location_id)
    if patient_id is not None:
        statement = statement.where(Appointment.patient_id == patient_id)
    statement = statement.order_by(Appointment.starts_at, Appointment.id)
    return list((await session.scalars(statement)).all())
