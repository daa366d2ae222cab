"""Tenant isolation: in the ORM for every query and insert (both databases), and
underneath it, PostgreSQL row-level security."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import (
    TenantScopeError,
    clear_scope,
    current_scope,
    organization_of,
    scope_to_tenant,
    use_system_scope,
)
from clinicdesk.identity.models import Location, Organization, User
from clinicdesk.identity.permissions import Role
from tests.support.identity import create_org, create_user


@pytest.fixture
async def two_clinics(session: AsyncSession) -> tuple[Organization, Organization]:
    a = await create_org(session, "Clinic A")
    await create_user(session, a, Role.DOCTOR)
    b = await create_org(session, "Clinic B")
    await create_user(session, b, Role.DOCTOR)
    await create_user(session, b, Role.NURSE)
    return a, b


async def test_queries_see_only_the_tenants_rows(
    session: AsyncSession, two_clinics: tuple[Organization, Organization]
) -> None:
    a, b = two_clinics
    await scope_to_tenant(session, a.id)
    assert {u.organization_id for u in (await session.execute(select(User))).scalars()} == {a.id}
    await scope_to_tenant(session, b.id)
    assert len((await session.execute(select(User))).scalars().all()) == 2


async def test_no_scope_sees_nothing_and_writes_nothing(
    session: AsyncSession, two_clinics: tuple[Organization, Organization]
) -> None:
    session.sync_session.info.pop("clinicdesk.tenant_scope", None)
    assert (await session.execute(select(User))).scalars().all() == []
    session.add(Location(name="Nowhere"))
    with pytest.raises(TenantScopeError):
        await session.flush()
    await session.rollback()


async def test_inserts_take_the_sessions_tenant(
    session: AsyncSession, two_clinics: tuple[Organization, Organization]
) -> None:
    a, b = two_clinics
    await scope_to_tenant(session, a.id)
    location = Location(name="Smuggled", organization_id=b.id)
    session.add(location)
    await session.flush()
    assert location.organization_id == a.id


async def test_rows_cannot_move_between_tenants(
    session: AsyncSession, two_clinics: tuple[Organization, Organization]
) -> None:
    a, b = two_clinics
    await scope_to_tenant(session, a.id)
    user = (await session.execute(select(User))).scalars().first()
    assert user is not None
    user.organization_id = b.id
    with pytest.raises(TenantScopeError):
        await session.flush()
    await session.rollback()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_row_level_security_enforces_the_tenant_underneath(
    session: AsyncSession, two_clinics: tuple[Organization, Organization]
) -> None:
    """Raw SQL, which no ORM filter touches: the database itself hides other tenants,
    and the system scope is no way around it for the server's role."""
    a, b = two_clinics
    await use_system_scope(session)
    connection = await session.connection()

    async def count_users(org: str) -> int:
        await connection.execute(
            text("SELECT set_config('app.organization_id', :org, true)"), {"org": org}
        )
        return int((await connection.execute(text("SELECT count(*) FROM users"))).scalar_one())

    assert await count_users("") == 0  # no tenant set (the system scope too): no rows
    assert await count_users(str(a.id)) == 1
    assert await count_users(str(b.id)) == 2
    role = (await connection.execute(text("SELECT current_user"))).scalar_one()
    assert role == "clinicdesk_app"


async def test_looking_up_an_address_leaves_the_scope_as_it_was(
    session: AsyncSession, clinic: Organization
) -> None:
    """``organization_of`` answers across organizations (the narrow lookup on PostgreSQL)
    and puts back whatever scope the caller had: tenant, system or none."""
    other = await create_org(session, "Lookup clinic B")
    user = await create_user(session, other, Role.NURSE)
    email = user.email
    for scope in ("tenant", "system", "none"):
        if scope == "tenant":
            await scope_to_tenant(session, clinic.id)
        elif scope == "system":
            await use_system_scope(session)
        else:
            await clear_scope(session)
        before = current_scope(session)
        assert await organization_of(session, User.email, email) == other.id
        assert current_scope(session) == before
        assert await organization_of(session, User.email, "nobody@example.org") is None
        assert current_scope(session) == before
