"""Never-repeating per-tenant sequences (record numbers, daily queue tokens).

A database sequence is shared by all tenants and cannot restart per day, so each counter
is a row ``(organization_id, name)`` incremented with one ``UPDATE ... RETURNING``. The
UPDATE takes the row lock on PostgreSQL (a second desk waits for the first to commit,
then increments the committed value); on SQLite every write transaction already holds
the database lock from ``BEGIN IMMEDIATE``. Either way two concurrent callers never get
the same value.

The counter is also gapless: the increment is part of the caller's transaction, so when
the caller rolls back the increment rolls back with it and the next caller gets the same
value (nobody ever saw it committed). A committed value is never handed out again.
Billing's invoice numbers rely on this; it holds only while the caller's transaction is
the one that uses the value, so never take a number in a transaction of its own.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, IdMixin
from clinicdesk.core.tenancy import TenantScoped, current_tenant


class Counter(Base, IdMixin, TenantScoped):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("organization_id", "name"),)


async def next_value(session: AsyncSession, name: str) -> int:
    """The next value of the tenant's counter ``name``, starting at 1."""
    organization_id = current_tenant(session)
    connection = await session.connection()
    upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        upsert(Counter)
        .values(organization_id=organization_id, name=name, value=0)
        .on_conflict_do_nothing(index_elements=["organization_id", "name"])
    )
    result = await session.execute(
        update(Counter)
        .where(Counter.organization_id == organization_id, Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    return int(result.scalar_one())
