"""Reading the appointment book: a range of appointments for a calendar view, and the
location a calendar opens at."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.scheduling.errors import BookingRefused
from clinicdesk.scheduling.models import Appointment, Provider, ProviderLocation
from clinicdesk.scheduling.service.attendance import day_bounds, location_today
from clinicdesk.scheduling.vocabulary import AppointmentStatus

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


async def default_location(
    session: AsyncSession,
    *,
    actor: Actor,
    location_ids: Sequence[uuid.UUID],
    remembered: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Where a calendar opens when the address names no location, among the active
    ``location_ids``: the one this user last chose (``remembered``, kept by their
    browser), else where they see patients as a provider, else the location with the
    most appointments today (not cancelled), else the first."""
    if not location_ids:
        return None
    if remembered in location_ids:
        return remembered
    if actor.user_id is not None:
        own = set(
            await session.scalars(
                select(ProviderLocation.location_id)
                .join(Provider, Provider.id == ProviderLocation.provider_id)
                .where(Provider.user_id == actor.user_id, Provider.is_active.is_(True))
            )
        )
        for location_id in location_ids:
            if location_id in own:
                return location_id
    busiest, most = location_ids[0], 0
    for location_id in location_ids:  # a clinic has a handful of locations
        start, end = await day_bounds(
            session, location_id, await location_today(session, location_id)
        )
        count = await session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.location_id == location_id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                Appointment.status != AppointmentStatus.CANCELLED,
            )
        )
        if (count or 0) > most:
            busiest, most = location_id, count or 0
    return busiest
