"""Reading the appointment book: a range of appointments for a calendar view."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.scheduling.errors import BookingRefused
from clinicdesk.scheduling.models import Appointment

MAX_RANGE = timedelta(days=62)


async def appointments_between(
    session: AsyncSession,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    provider_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> list[Appointment]:
    """Appointments starting in ``[start, end)``, oldest first, for ``actor`` to see:
    their patients are recorded as read (one entry per request, see
    ``audit.record_list_read``)."""
    found = await find_between(
        session,
        start=start,
        end=end,
        provider_id=provider_id,
        location_id=location_id,
        patient_id=patient_id,
    )
    await audit.record_list_read(
        session, actor=actor, patient_ids=[a.patient_id for a in found], view="appointments"
    )
    return found


async def find_between(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    provider_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> list[Appointment]:
    """The same appointments for a computation that shows nobody who the patients are
    (wait estimates): not recorded as a read. Anything shown uses ``appointments_between``."""
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
