"""The audit chain's step after commit, on both databases: writers of one organization
do not wait for each other, every entry gets one place, a stop between a commit and its
chaining leaves nothing unaccounted for, and a chained entry never changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from clinicdesk.audit import chaining
from clinicdesk.audit import service as audit
from clinicdesk.audit.models import AuditEvent
from clinicdesk.core import migrations
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.service import organizations
from tests.support.postgres import APP_ROLE

WRITERS = 20


@pytest.fixture
async def app_db(migrated_database_url: str) -> AsyncIterator[Database]:
    """A migrated database of its own whose writes commit, connected as the server
    connects: on PostgreSQL the application role, which owns no table."""
    owner = create_database(migrated_database_url, pool_size=2)
    url = migrated_database_url
    try:
        if owner.kind == "postgresql":
            await migrations.upgrade(owner, grant_to=APP_ROLE)
            app_role = make_url(migrated_database_url).set(username=APP_ROLE, password=None)
            url = app_role.render_as_string(hide_password=False)
        else:
            await migrations.upgrade(owner)
    finally:
        await owner.dispose()
    database = create_database(url, pool_size=WRITERS + 2)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def owner_db(migrated_database_url: str, app_db: Database) -> AsyncIterator[Database]:
    """The same database as the tables' owner, as `clinicdesk audit verify` connects: on
    PostgreSQL only the owner sees every organization's chain."""
    owner = create_database(migrated_database_url, pool_size=2)
    try:
        yield owner
    finally:
        await owner.dispose()


async def verify(owner_db: Database) -> audit.VerifyReport:
    async with session_scope(owner_db) as session:
        return await audit.verify_chains(session)


async def new_clinic(db: Database) -> uuid.UUID:
    async with session_scope(db) as session:
        return (await organizations.create_organization(session, name="Busy Clinic")).id


async def waiting(db: Database, chain_id: uuid.UUID) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, chain_id)
        count = select(func.count()).where(
            AuditEvent.chain_id == chain_id, AuditEvent.seq.is_(None)
        )
        return int(await session.scalar(count) or 0)


async def write_uncommitted_chaining(db: Database, chain_id: uuid.UUID, count: int) -> None:
    """Entries committed without their place, as a process leaves them that stops between
    a commit and its chaining step (PostgreSQL; on SQLite the step runs inside the
    writing transaction, so only a row written outside ClinicDesk is left so)."""
    async with db.engine.begin() as conn:
        if db.kind == "postgresql":
            await conn.execute(
                text("SELECT set_config('app.organization_id', :org, true)"), {"org": str(chain_id)}
            )
        for n in range(count):
            await conn.execute(
                insert(AuditEvent).values(
                    id=new_id(),
                    organization_id=chain_id,
                    chain_id=chain_id,
                    occurred_at=utcnow(),
                    actor_kind="system",
                    actor_roles=[],
                    action="test.before_the_crash",
                    outcome="success",
                    details={"n": n},
                )
            )


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_an_open_transaction_does_not_hold_up_another_writer_of_its_organization(
    app_db: Database,
    owner_db: Database,
) -> None:
    """Before, the first entry locked the organization's chain head until its transaction
    ended: a second chart opened meanwhile waited. Now the second commits at once."""
    clinic = await new_clinic(app_db)
    async with app_db.sessionmaker() as slow:
        await scope_to_tenant(slow, clinic)
        await audit.record(slow, action="test.slow", details={"patient": "a"})

        async def quick() -> None:
            async with session_scope(app_db) as session:
                await scope_to_tenant(session, clinic)
                await audit.record(session, action="test.quick", details={"patient": "b"})

        await asyncio.wait_for(quick(), timeout=5)
        await slow.commit()
    await chaining.chain_pending(app_db.engine, clinic)

    report = await verify(owner_db)
    async with session_scope(app_db) as session:
        await scope_to_tenant(session, clinic)
        actions = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.chain_id == clinic).order_by(AuditEvent.seq)
        )
        assert list(actions) == ["organization.created", "test.quick", "test.slow"]
    assert report.ok, report.problems


async def test_parallel_writers_each_get_one_place_in_one_unbroken_chain(
    app_db: Database,
    owner_db: Database,
) -> None:
    clinic = await new_clinic(app_db)

    async def write(n: int) -> None:
        async with session_scope(app_db) as session:
            await scope_to_tenant(session, clinic)
            for k in range(3):
                await audit.record(session, action="test.parallel", details={"n": n, "k": k})

    await asyncio.gather(*(write(n) for n in range(WRITERS)))

    async with session_scope(app_db) as session:
        await scope_to_tenant(session, clinic)
        places = (
            await session.execute(
                select(AuditEvent.seq).where(AuditEvent.chain_id == clinic).order_by(AuditEvent.seq)
            )
        ).scalars()
        assert list(places) == list(range(1, WRITERS * 3 + 2))
    report = await verify(owner_db)
    assert report.ok, report.problems
    assert report.chained_now == 0  # each commit's own chaining step already did it


async def test_entries_left_by_a_stop_before_chaining_are_chained_by_the_next_start(
    app_db: Database,
    owner_db: Database,
) -> None:
    clinic = await new_clinic(app_db)
    await write_uncommitted_chaining(app_db, clinic, 5)
    assert await waiting(app_db, clinic) == 5

    async with chaining.running_chainer(app_db):  # what a server start runs
        for _ in range(100):
            if await waiting(app_db, clinic) == 0:
                break
            await asyncio.sleep(0.05)
    assert await waiting(app_db, clinic) == 0

    report = await verify(owner_db)
    assert report.ok, report.problems
    assert report.chained_now == 0


async def test_verify_chains_what_waits_and_counts_every_entry(
    app_db: Database, owner_db: Database
) -> None:
    clinic = await new_clinic(app_db)
    await write_uncommitted_chaining(app_db, clinic, 4)

    report = await verify(owner_db)

    assert report.ok, report.problems
    assert report.chained_now == 4
    assert await waiting(app_db, clinic) == 0


async def test_the_running_chainer_chains_each_commit_in_the_background(
    app_db: Database,
) -> None:
    clinic = await new_clinic(app_db)
    async with chaining.running_chainer(app_db):
        async with session_scope(app_db) as session:
            await scope_to_tenant(session, clinic)
            await audit.record(session, action="test.in_the_background")
        for _ in range(100):
            if await waiting(app_db, clinic) == 0:
                break
            await asyncio.sleep(0.02)
        assert await waiting(app_db, clinic) == 0


async def test_verify_finds_two_chained_entries_swapped(
    app_db: Database, owner_db: Database
) -> None:
    """Reordering is tampering: the swapped entries no longer link."""
    clinic = await new_clinic(app_db)
    async with session_scope(app_db) as session:
        await scope_to_tenant(session, clinic)
        for n in range(3):
            await audit.record(session, action=f"test.entry.{n}")
    async with owner_db.engine.begin() as conn:
        if owner_db.kind == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        places = AuditEvent.chain_id == clinic
        for old, parked in ((2, -3), (3, -2)):
            await conn.execute(
                update(AuditEvent).where(places, AuditEvent.seq == old).values(seq=parked)
            )
        await conn.execute(
            update(AuditEvent).where(places, AuditEvent.seq < 0).values(seq=-AuditEvent.seq)
        )
        if owner_db.kind == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))

    report = await verify(owner_db)

    assert [(p.chain_id, p.seq) for p in report.problems] == [(clinic, 2)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "change",
    [
        "SET seq = seq + 100",
        "SET hash = repeat('0', 64)",
        "SET prev_hash = NULL, seq = NULL, hash = NULL",
        "SET action = 'test.rewritten'",
    ],
)
async def test_the_application_role_cannot_change_a_chained_entry(
    app_db: Database, change: str
) -> None:
    clinic = await new_clinic(app_db)
    async with session_scope(app_db) as session:
        await scope_to_tenant(session, clinic)
        with pytest.raises(DBAPIError, match=r"permission denied|cannot change"):
            await session.execute(text(f"UPDATE audit_events {change}"))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_not_even_the_owner_changes_a_chained_entry_while_the_trigger_stands(
    migrated_database_url: str,
) -> None:
    owner = create_database(migrated_database_url, pool_size=2)
    try:
        await migrations.upgrade(owner)
        await new_clinic(owner)
        async with owner.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="is chained and cannot change"):
                await conn.execute(text("UPDATE audit_events SET seq = seq + 100"))
    finally:
        await owner.dispose()


async def test_the_sweep_lists_only_chains_with_waiting_entries(app_db: Database) -> None:
    quiet, busy = await new_clinic(app_db), await new_clinic(app_db)
    await write_uncommitted_chaining(app_db, busy, 2)

    async with session_scope(app_db) as session:
        found = await chaining.chains_waiting(session)
        await use_system_scope(session)

    assert busy in found
    assert quiet not in found
