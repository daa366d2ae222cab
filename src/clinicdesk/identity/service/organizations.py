"""Organizations (tenants) and their locations."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.errors import NotFound
from clinicdesk.core.models import check_version, new_id
from clinicdesk.core.tenancy import current_tenant, scope_to_tenant, use_system_scope
from clinicdesk.identity.errors import LocationNotFound
from clinicdesk.identity.models import Location, Organization
from clinicdesk.identity.schemas import LocationWrite, OrganizationUpdate


async def create_organization(
    session: AsyncSession,
    *,
    name: str,
    time_zone: str = "UTC",
    locale: str = "en",
    currency: str = "USD",
    mfa_required_for_admins: bool = True,
) -> Organization:
    """A new tenant with its own audit chain; the session is scoped to it afterwards.
    Creating a tenant is an installation-level act (CLI, demo). The session is scoped to
    the new id before the row is written: on PostgreSQL even the organization's own row
    is written under row-level security, with no way around it for the server's role."""
    organization_id = new_id()
    await scope_to_tenant(session, organization_id)
    organization = Organization(
        id=organization_id,
        name=name,
        time_zone=time_zone,
        locale=locale,
        currency=currency,
        mfa_required_for_admins=mfa_required_for_admins,
    )
    session.add(organization)
    await session.flush()
    audit.start_chain(session, organization.id)
    await audit.record(
        session,
        action="organization.created",
        actor=SYSTEM,
        organization_id=organization.id,
        resource_type="organization",
        resource_id=organization.id,
        changes=audit.changes(None, audit.snapshot(organization)),
    )
    return organization


async def sign_in_name(session: AsyncSession) -> str | None:
    """The clinic the sign-in page names: the organization, when this server holds exactly
    one active organization. Sign-in finds the organization from the e-mail address, so
    with several the page cannot know whose it is and names none (it never tells one
    clinic's name to another's staff). On PostgreSQL the server's role sees no
    organization before sign-in (row-level security): the database answers through
    ``clinicdesk_sole_organization_name``, which tells that one name and nothing else."""
    if session.get_bind().dialect.name == "postgresql":
        name = await session.scalar(text("SELECT clinicdesk_sole_organization_name()"))
        return str(name) if name is not None else None
    await use_system_scope(session)
    names = (
        await session.scalars(
            select(Organization.name).where(Organization.is_active.is_(True)).limit(2)
        )
    ).all()
    return names[0] if len(names) == 1 else None


async def get_organization(session: AsyncSession) -> Organization:
    organization = await session.get(Organization, current_tenant(session))
    if organization is None:  # only if the tenant was deleted under a live session
        raise NotFound("Your organization no longer exists.")
    return organization


async def update_organization(
    session: AsyncSession, *, actor: Actor, update: OrganizationUpdate, expected_version: int | None
) -> Organization:
    organization = await get_organization(session)
    check_version(organization, expected_version)
    before = audit.snapshot(organization)
    for field, value in update.model_dump(exclude_none=True).items():
        setattr(organization, field, value)
    await session.flush()
    await audit.record(
        session,
        action="organization.updated",
        actor=actor,
        resource_type="organization",
        resource_id=organization.id,
        changes=audit.changes(before, audit.snapshot(organization)),
    )
    return organization


async def list_locations(session: AsyncSession) -> list[Location]:
    result = await session.execute(select(Location).order_by(Location.name).limit(500))
    return list(result.scalars())


async def active_locations(session: AsyncSession) -> list[Location]:
    """The locations that are open for business, by name: what every location picker
    offers (an inactive location keeps its history but takes no new work)."""
    return [location for location in await list_locations(session) if location.is_active]


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> Location:
    location = (
        await session.execute(select(Location).where(Location.id == location_id))
    ).scalar_one_or_none()
    if location is None:
        raise LocationNotFound("There is no such location in your organization.")
    return location


async def create_location(session: AsyncSession, *, actor: Actor, data: LocationWrite) -> Location:
    location = Location(**data.model_dump())
    session.add(location)
    await session.flush()
    await audit.record(
        session,
        action="location.created",
        actor=actor,
        resource_type="location",
        resource_id=location.id,
        changes=audit.changes(None, audit.snapshot(location)),
    )
    return location


async def update_location(
    session: AsyncSession,
    *,
    actor: Actor,
    location_id: uuid.UUID,
    data: LocationWrite,
    expected_version: int | None,
) -> Location:
    location = await get_location(session, location_id)
    check_version(location, expected_version)
    before = audit.snapshot(location)
    for field, value in data.model_dump().items():
        setattr(location, field, value)
    await session.flush()
    await audit.record(
        session,
        action="location.updated",
        actor=actor,
        resource_type="location",
        resource_id=location.id,
        changes=audit.changes(before, audit.snapshot(location)),
    )
    return location


async def active_organization_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every active organization's id, for a system job that then works inside each
    organization's own scope (nightly model training). Leaves the session in the system
    scope. On PostgreSQL the server's role sees no organization from the system scope:
    the database answers through ``clinicdesk_active_organization_ids``, which tells the
    ids and nothing else."""
    await use_system_scope(session)
    if session.get_bind().dialect.name == "postgresql":
        found = await session.scalars(text("SELECT clinicdesk_active_organization_ids()"))
        return sorted(uuid.UUID(str(value)) for value in found)
    ids = await session.scalars(
        select(Organization.id).where(Organization.is_active.is_(True)).order_by(Organization.id)
    )
    return list(ids)
