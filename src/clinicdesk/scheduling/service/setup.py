"""Setting up the appointment book: providers, where and when they work, appointment
types. Admin work, rarely changed, every change audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

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
    HoursExceptionNotFound,
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
    HoursBlock,
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


async def update_type(
    session: AsyncSession,
    *,
    actor: Actor,
    type_id: uuid.UUID,
    data: AppointmentTypeWrite,
    expected_version: int | None,
) -> AppointmentType:
    """Change an appointment type. Booked appointments keep their times; a new duration
    or buffer applies to bookings made from now on. A deactivated type is offered for no
    new booking (its appointments stay)."""
    kind = await get_type(session, type_id)
    check_version(kind, expected_version)
    taken = await session.scalar(
        select(AppointmentType.id).where(
            AppointmentType.name == data.name, AppointmentType.id != kind.id
        )
    )
    if taken is not None:
        raise BookingRefused(f"There is already an appointment type called {data.name!r}.")
    before = audit.snapshot(kind)
    for field, value in data.model_dump().items():
        setattr(kind, field, value)
    await session.flush()
    await audit.record(
        session,
        action="appointment_type.updated",
        actor=actor,
        resource_type="appointment_type",
        resource_id=kind.id,
        changes=audit.changes(before, audit.snapshot(kind)),
    )
    return kind


# --- the week block by block, and the exceptions one by one (the settings pages) ---------


def _blocks(rows: Sequence[WeeklyHours]) -> list[HoursBlock]:
    return [
        HoursBlock(
            location_id=r.location_id,
            weekday=r.weekday,
            start_time=r.start_time,
            end_time=r.end_time,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
        )
        for r in rows
    ]


def _dates_meet(a: HoursBlock, b: HoursBlock) -> bool:
    return (a.valid_until is None or b.valid_from is None or b.valid_from <= a.valid_until) and (
        b.valid_until is None or a.valid_from is None or a.valid_from <= b.valid_until
    )


async def add_hours_block(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    block: HoursBlock,
    expected_version: int | None,
) -> Provider:
    """Add one block to the provider's week. A provider is in one place at a time: a
    block that overlaps another on the same weekday (in dates that meet) is refused."""
    current = _blocks(await weekly_hours(session, provider_id))
    for other in current:
        if (
            other.weekday == block.weekday
            and other.start_time < block.end_time
            and block.start_time < other.end_time
            and _dates_meet(other, block)
        ):
            raise BookingRefused(
                f"This overlaps the block {other.start_time:%H:%M}-{other.end_time:%H:%M} on "
                "the same day. Change or remove that one first."
            )
    return await set_weekly_hours(
        session,
        actor=actor,
        provider_id=provider_id,
        data=WeeklyHoursWrite(blocks=[*current, block]),
        expected_version=expected_version,
    )


async def remove_hours_block(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    block_id: uuid.UUID,
    expected_version: int | None,
) -> Provider:
    """Remove one block of the provider's week. Every change of the week moves the
    provider's version on, so a block from an older read is refused by the version."""
    check_version(await get_provider(session, provider_id), expected_version)
    rows = await weekly_hours(session, provider_id)
    kept = [r for r in rows if r.id != block_id]
    if len(kept) == len(rows):
        raise BookingRefused("These hours are not in this provider's week; reload the page.")
    return await set_weekly_hours(
        session,
        actor=actor,
        provider_id=provider_id,
        data=WeeklyHoursWrite(blocks=_blocks(kept)),
        expected_version=expected_version,
    )


EXCEPTIONS_SHOWN = 200


async def list_exceptions(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID | None,
    since: date | None = None,
    limit: int = EXCEPTIONS_SHOWN,
) -> list[HoursException]:
    """Time off and extra hours of a provider (``provider_id``), or the locations'
    closures (None), from ``since`` (default: today in the organization) on, by date."""
    if since is None:
        organization = await identity.get_organization(session)
        since = datetime.now(ZoneInfo(organization.time_zone)).date()
    statement = select(HoursException).where(HoursException.on_date >= since)
    if provider_id is None:
        statement = statement.where(HoursException.provider_id.is_(None))
    else:
        statement = statement.where(HoursException.provider_id == provider_id)
    statement = statement.order_by(HoursException.on_date, HoursException.start_time)
    return list((await session.scalars(statement.limit(limit))).all())


async def remove_exception(
    session: AsyncSession, *, actor: Actor, exception_id: uuid.UUID, expected_version: int | None
) -> HoursException:
    """Take back a time off, extra hours or a closure. Appointments are not touched: a
    day that opens again simply has free time again."""
    row = await get_exception(session, exception_id)
    check_version(row, expected_version)
    removed = {
        "provider_id": str(row.provider_id) if row.provider_id else None,
        "location_id": str(row.location_id) if row.location_id else None,
        "on_date": row.on_date.isoformat(),
        "kind": row.kind,
    }
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        action="hours_exception.removed",
        actor=actor,
        resource_type="hours_exception",
        resource_id=row.id,
        details=removed,
    )
    return row


async def get_exception(session: AsyncSession, exception_id: uuid.UUID) -> HoursException:
    row = await session.get(HoursException, exception_id)
    if row is None:
        raise HoursExceptionNotFound("This time off or closure is no longer there.")
    return row
