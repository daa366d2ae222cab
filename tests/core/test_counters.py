"""``core.counters`` on SQLite and PostgreSQL: values start at 1, are per tenant and per
name, and are gapless: a rolled-back increment is handed out again."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.counters import next_value
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.models import Organization
from clinicdesk.identity.service import organizations


async def test_a_rolled_back_value_is_handed_out_again(
    session: AsyncSession, clinic: Organization
) -> None:
    await scope_to_tenant(session, clinic.id)
    assert await next_value(session, "invoice-2026") == 1
    await session.commit()

    issuing = await session.begin_nested()
    assert await next_value(session, "invoice-2026") == 2
    await issuing.rollback()  # the invoice could not be issued

    assert await next_value(session, "invoice-2026") == 2
    assert await next_value(session, "invoice-2026") == 3


async def test_counters_are_per_tenant_and_per_name(
    session: AsyncSession, clinic: Organization
) -> None:
    await use_system_scope(session)
    other = await organizations.create_organization(session, name="Other Clinic")
    await scope_to_tenant(session, clinic.id)
    assert await next_value(session, "a") == 1
    assert await next_value(session, "a") == 2
    assert await next_value(session, "b") == 1
    await scope_to_tenant(session, other.id)
    assert await next_value(session, "a") == 1
