"""Setting up the appointment book: providers, where and when they work, appointment
types. Admin work, rarely changed, every change audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.identity import public as identity
from clinicdesk.identity.public import UserKind, get_user
from clinicdesk.scheduling.errors import (
    AppointmentTypeNotFound,
    BookingRefused,
    ProviderNotFound,
)
from clinicdesk.scheduling.models import (
    AppointmentType,
    HoursException,
    Provider,
    ProviderLocation,
    WeeklyHours,
)
from clinicdesk.scheduling.schemas import (
    AppointmentTypeWrite,
    HoursExceptionWrite,
    ProviderWrite,
    WeeklyHoursWrite,
)


async def get_provider(session: AsyncSession, provider_id: uuid.UUID) -> Provider:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise ProviderNotFound("No provider with this id.")
    return provider


async def list_providers(session: AsyncSession, *, active_only: bool = True) -> list[Provider]:
    statement = select(Provider).order_by(Provider.display_name)
    if active_only:
        statement = statement.where(Provider.is_active.is_(True))
    return list((await session.scalars(statement)).all())


async def provider_locations(
    session: AsyncSession, provider_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await session.execute(
        select(ProviderLocation.provider_id, ProviderLocation.location_id).where(
            ProviderLocation.provider_id.in_(provider_ids)
        )
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {p: [] for p in provider_ids}
    for provider_id, location_id in rows:
        found[provider_id].append(location_id)
    return found


async def providers_at(session: AsyncSession, location_id: uuid.UUID) -> list[Provider]:
    """The active providers who work at this location, by name: the one answer to "who
    works here" for the calendar, the queue board and the desk."""
    statement = (
        select(Provider)
        .join(ProviderLocation, ProviderLocation.provider_id == Provider.id)
        .where(ProviderLocation.location_id == location_id, Provider.is_active.is_(True))
        .order_by(Provider.display_name)
    )
    return list((await session.scalars(statement)).all())


async def check_works_at(
    session: AsyncSession, provider_id: uuid.UUID, location_id: uuid.UUID
) -> None:
    provider = await get_provider(session, provider_id)
    if not provider.is_active:
        raise BookingRefused("This provider no longer takes appointments.")
    works = await session.scalar(
        select(ProviderLocation.id).where(
            ProviderLocation.provider_id == provider_id,
            ProviderLocation.location_id == location_id,
        )
    )
    if works is None:
        raise BookingRefused("This provider does not work at this location.")


async def _set_locations(
    session: AsyncSession, provider: Provider, location_ids: Sequence[uuid.UUID]
) -> None:
    for location_id in location_ids:
        await identity.get_location(session, location_id)  # 404 if not ours
    await session.execute(
        delete(ProviderLocation).where(ProviderLocation.provider_id == provider.id)
    )
    for location_id in dict.fromkeys(location_ids):
        session.add(ProviderLocation(provider_id=provider.id, location_id=location_id))
    await session.flush()


async def create_provider(session: AsyncSession, *, actor: Actor, data: ProviderWrite) -> Provider:
    user = await get_user(session, data.user_id)
    if user.kind != UserKind.STAFF:
        raise BookingRefused("Only a staff account can be a provider.")
    existing = await session.scalar(select(Provider.id).where(Provider.user_id == user.id))
    if existing is not None:
        raise BookingRefused("This user already has a provider profile.")
    provider = Provider(**data.model_dump(exclude={"location_ids"}))
    session.add(provider)
    await session.flush()
    await _set_locations(session, provider, data.location_ids)
    await audit.record(
        session,
        action="provider.created",
        actor=actor,
        resource_type="provider",
        resource_id=provider.id,
        changes=audit.changes(None, audit.snapshot(provider)),
        details={"locations": [str(i) for i in data.location_ids]},
    )
    return provider


async def update_provider(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    data: ProviderWrite,
    expected_version: int | None,
) -> Provider:
    provider = await get_provider(session, provider_id)
    check_version(provider, expected_version)
    before = audit.snapshot(provider)
    for field, value in data.model_dump(exclude={"location_ids", "user_id"}).items():
        setattr(provider, field, value)
    await session.flush()
    await _set_locations(session, provider, data.location_ids)
    await audit.record(
        session,
        action="provider.updated",
        actor=actor,
        resource_type="provider",
        resource_id=provider.id,
        changes=audit.changes(before, audit.snapshot(provider)),
        details={"locations": [str(i) for i in data.location_ids]},
    )
    return provider


async def set_weekly_hours(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    data: WeeklyHoursWrite,
    expected_version: int | None = None,
) -> Provider:
    """Replace the provider's regular week. The week is versioned with the provider: a
    replacement based on an older read is refused, and each one moves the version on."""
    provider = await get_provider(session, provider_id)
    check_version(provider, expected_version)
    for block in data.blocks:
        await check_works_at(session, provider.id, block.location_id)
    await session.execute(delete(WeeklyHours).where(WeeklyHours.provider_id == provider.id))
    rows = [WeeklyHours(provider_id=provider.id, **b.model_dump()) for b in data.blocks]
    session.add_all(rows)
    await session.flush()
    await audit.record(
        session,
        action="provider.hours_set",
        actor=actor,
        resource_type="provider",
        resource_id=provider.id,
        details={"blocks": len(rows)},
    )
    # The hours are rows of their own; touching the provider moves its version on.
    provider.updated_at = utcnow()
    await session.flush()
    return provider


async def weekly_hours(session: AsyncSession, provider_id: uuid.UUID) -> list[WeeklyHours]:
    statement = (
        select(WeeklyHours)
        .where(WeeklyHours.provider_id == provider_id)
        .order_by(WeeklyHours.weekday, WeeklyHours.start_time)
    )
    return list((await session.scalars(statement)).all())


async def add_exception(
    session: AsyncSession, *, actor: Actor, data: HoursExceptionWrite
) -> HoursException:
    if data.provider_id is not None:
        await get_provider(session, data.provider_id)
    if data.location_id is not None:
        await identity.get_location(session, data.location_id)
    if data.provider_id is None and data.kind == "extra":
        raise BookingRefused("Extra hours belong to a provider; a location can only close.")
    row = HoursException(**data.model_dump())
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="hours_exception.added",
        actor=actor,
        resource_type="hours_exception",
        resource_id=row.id,
        changes=audit.changes(None, audit.snapshot(row)),
    )
    return row


async def get_type(session: AsyncSession, type_id: uuid.UUID) -> AppointmentType:
    kind = await session.get(AppointmentType, type_id)
    if kind is None:
        raise AppointmentTypeNotFound("No appointment type with this id.")
    return kind


async def list_types(session: AsyncSession, *, active_only: bool = True) -> list[AppointmentType]:
    statement = select(AppointmentType).order_by(AppointmentType.name)
    if active_only:
        statement = statement.where(AppointmentType.is_active.is_(True))
    return list((await session.scalars(statement)).all())


async def create_type(
    session: AsyncSession, *, actor: Actor, data: AppointmentTypeWrite
) -> AppointmentType:
    taken = await session.scalar(
        select(AppointmentType.id).where(AppointmentType.name == data.name)
    )
    if taken is not None:
        raise BookingRefused(f"There is already an appointment type called {data.name!r}.")
    kind = AppointmentType(**data.model_dump())
    session.add(kind)
    await session.flush()
    await audit.record(
        session,
        action="appointment_type.created",
        actor=actor,
        resource_type="appointment_type",
        resource_id=kind.id,
        changes=audit.changes(None, audit.snapshot(kind)),
    )
    return kind
