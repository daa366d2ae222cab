"""The audit trail on both databases: hash chains, field-level changes without secrets,
tamper detection, the append-only grant, and one transaction with the change it records."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from clinicdesk.audit import chaining
from clinicdesk.audit import service as audit
from clinicdesk.audit.models import GENESIS_HASH, INSTALLATION_CHAIN, AuditEvent, Outcome
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.tenancy import TenantScopeError, scope_to_tenant, use_system_scope
from clinicdesk.identity import passwords
from clinicdesk.identity.models import Location, Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import PASSWORD, create_org, create_user

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def chain_of(session: AsyncSession, chain_id: uuid.UUID) -> list[AuditEvent]:
    """The chain's entries in order, once those still waiting (written in this test's
    open transaction, which has not committed) have their place."""
    assert isinstance(session.bind, AsyncEngine | AsyncConnection)
    await chaining.chain_pending(session.bind, chain_id)
    if chain_id == INSTALLATION_CHAIN:
        await use_system_scope(session)
    else:
        await scope_to_tenant(session, chain_id)
    rows = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.chain_id == chain_id)
        .order_by(AuditEvent.seq)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def assert_linked(events: list[AuditEvent]) -> None:
    """Sequence 1, 2, 3...; each entry names its predecessor's hash and hashes itself."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    previous = GENESIS_HASH
    for event in events:
        assert event.prev_hash == previous
        assert event.hash == chaining.compute_hash(event)
        previous = event.hash


# --- chaining ------------------------------------------------------------------------


async def test_each_organization_has_its_own_chain(session: AsyncSession) -> None:
    first = await create_org(session, "Clinic A")
    second = await create_org(session, "Clinic B")
    for n in range(3):  # append to both chains, in turns, from one session
        await scope_to_tenant(session, first.id)
        await audit.record(session, action=f"test.first.{n}", organization_id=first.id)
        await scope_to_tenant(session, second.id)
        await audit.record(session, action=f"test.second.{n}", organization_id=second.id)

    first_chain = await chain_of(session, first.id)
    second_chain = await chain_of(session, second.id)

    assert [e.action for e in first_chain] == [
        "organization.created",
        "test.first.0",
        "test.first.1",
        "test.first.2",
    ]
    assert [e.action for e in second_chain] == [
        "organization.created",
        "test.second.0",
        "test.second.1",
        "test.second.2",
    ]
    assert_linked(first_chain)
    assert_linked(second_chain)
    assert {e.organization_id for e in first_chain} == {first.id}
    assert {e.organization_id for e in second_chain} == {second.id}
    assert first_chain[0].hash != second_chain[0].hash


async def test_the_organization_comes_from_the_actor_then_the_session(
    session: AsyncSession,
) -> None:
    clinic = await create_org(session, "Clinic A")
    doctor = await create_user(session, clinic, Role.DOCTOR)
    other = await create_org(session, "Clinic B")
    await scope_to_tenant(session, clinic.id)
    by_actor = await audit.record(session, action="test.by_actor", actor=actor_for(doctor))
    with pytest.raises(TenantScopeError):
        await audit.record(
            session, action="test.by_actor", actor=actor_for(doctor), organization_id=other.id
        )
    by_tenant = await audit.record(session, action="test.by_tenant")
    await chain_of(session, clinic.id)

    assert by_actor.chain_id == by_actor.organization_id == clinic.id
    assert by_actor.actor_user_id == doctor.id
    assert by_actor.actor_roles == ["doctor"]
    assert by_tenant.chain_id == by_tenant.organization_id == clinic.id
    assert by_tenant.actor_kind == "system"
    assert by_actor.seq is not None
    assert by_tenant.seq == by_actor.seq + 1
    assert by_tenant.prev_hash == by_actor.hash


async def test_an_entry_without_organization_goes_to_the_installation_chain(
    session: AsyncSession,
) -> None:
    await use_system_scope(session)
    before = await chain_of(session, INSTALLATION_CHAIN)

    first = await audit.record(session, action="test.unknown_account", outcome=Outcome.FAILURE)
    second = await audit.record(session, action="test.unknown_account", outcome=Outcome.FAILURE)
    await chain_of(session, INSTALLATION_CHAIN)

    assert first.organization_id is None and second.organization_id is None
    assert first.chain_id == second.chain_id == INSTALLATION_CHAIN
    assert first.seq == len(before) + 1
    assert second.seq == first.seq + 1
    assert first.prev_hash == (before[-1].hash if before else GENESIS_HASH)
    assert second.prev_hash == first.hash
    assert second.hash == chaining.compute_hash(second)


async def test_an_entry_for_another_organization_than_the_sessions_is_refused(
    session: AsyncSession,
) -> None:
    """Stamped with the session's tenant but chained and hashed under another, the entry
    would look tampered with; ``record`` refuses it plainly instead, on both databases."""
    first = await create_org(session, "Clinic A")
    await create_org(session, "Clinic B")  # the session is now scoped to B
    with pytest.raises(TenantScopeError, match="scoped to"):
        await audit.record(session, action="test.for_a", organization_id=first.id)
    await scope_to_tenant(session, first.id)
    event = await audit.record(session, action="test.for_a", organization_id=first.id)
    await chain_of(session, first.id)
    assert event.chain_id == event.organization_id == first.id
    assert chaining.compute_hash(event) == event.hash


# --- field-level changes ---------------------------------------------------------------


async def test_changes_of_an_update_keep_before_and_after_of_changed_fields_only(
    session: AsyncSession,
) -> None:
    clinic = await create_org(session, "Clinic A")
    user = await create_user(session, clinic, Role.NURSE, password=PASSWORD)
    before = audit.snapshot(user)

    user.full_name = "Nurse Renamed"
    user.roles = ["doctor", "nurse"]
    await session.flush()
    diff = audit.changes(before, audit.snapshot(user))

    assert diff == {
        "full_name": {"before": "Test nurse", "after": "Nurse Renamed"},
        "roles": {"before": ["nurse"], "after": ["doctor", "nurse"]},
    }
    assert audit.changes(before, before) == {}


async def test_changes_of_a_new_record_hold_only_the_set_fields(session: AsyncSession) -> None:
    clinic = await create_org(session, "Clinic A")
    user = await create_user(session, clinic, Role.NURSE, email="nurse@example.org")

    diff = audit.changes(None, audit.snapshot(user))

    assert diff["email"] == {"after": "nurse@example.org"}
    assert diff["roles"] == {"after": ["nurse"]}
    # Bookkeeping columns and unset fields are left out.
    for left_out in ("id", "organization_id", "created_at", "updated_at", "version"):
        assert left_out not in diff
    for unset in ("patient_id", "password_changed_at", "last_login_at", "totp_last_step"):
        assert unset not in diff
    # ...the secret ones included: an unset secret did not change.
    assert "password_hash" not in diff
    assert "totp_secret" not in diff


async def test_secrets_are_only_marked_changed_and_never_stored(session: AsyncSession) -> None:
    clinic = await create_org(session, "Clinic A")
    user = await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)
    old_hash = user.password_hash
    assert old_hash is not None
    created = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "user.created", AuditEvent.resource_id == str(user.id)
            )
        )
    ).scalar_one()
    assert created.changes is not None
    assert created.changes["password_hash"] == {"changed": True, "set": True}

    before = audit.snapshot(user)
    user.totp_secret = TOTP_SECRET
    user.password_hash = await passwords.hash_password("another long pass phrase")
    await session.flush()
    diff = audit.changes(before, audit.snapshot(user))
    assert diff == {
        "password_hash": {"changed": True, "set": True},
        "totp_secret": {"changed": True, "set": True},
    }
    changed = await audit.record(
        session,
        action="test.secrets_changed",
        resource_type="user",
        resource_id=user.id,
        changes=diff,
    )

    # What the database holds, read back as raw columns, then serialized whole.
    raw_totp = (
        await session.execute(
            text("SELECT totp_secret FROM users WHERE email = :e"), {"e": user.email}
        )
    ).scalar_one()
    assert field_keyring().decrypt(raw_totp) == TOTP_SECRET
    stored = (
        await session.execute(
            select(AuditEvent.__table__).where(
                AuditEvent.__table__.c.id.in_([created.id, changed.id])
            )
        )
    ).mappings()
    serialized = json.dumps([dict(row) for row in stored], default=str)
    assert "test.secrets_changed" in serialized  # the rows were found
    for secret in (PASSWORD, old_hash, user.password_hash, TOTP_SECRET, raw_totp):
        assert secret not in serialized


# --- verification ----------------------------------------------------------------------


@pytest.fixture
async def committed_db(migrated_database_url: str) -> AsyncIterator[Database]:
    """A migrated database of its own whose writes really commit (the tamper tests alter
    committed rows as the tables' owner, outside any test transaction)."""
    database = create_database(migrated_database_url, pool_size=2)
    try:
        await migrations.upgrade(database)
        yield database
    finally:
        await database.dispose()


async def two_chains(db: Database, entries: int = 3) -> tuple[uuid.UUID, uuid.UUID]:
    """Two organizations, each with ``organization.created`` and ``entries`` more."""
    ids = []
    for name in ("Clinic A", "Clinic B"):
        async with session_scope(db) as session:
            organization = await organizations.create_organization(session, name=name)
            for n in range(entries):
                await audit.record(session, action=f"test.entry.{n}", details={"n": n})
            ids.append(organization.id)
    return ids[0], ids[1]


@asynccontextmanager
async def as_intruder(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection as the tables' owner that has switched off the trigger guarding
    chained entries (PostgreSQL), as someone altering the trail behind the server's
    back would; ``verify`` must still find what they did."""
    async with db.engine.begin() as conn:
        if db.kind == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        yield conn
        if db.kind == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


async def verify(db: Database) -> audit.VerifyReport:
    async with session_scope(db) as session:
        return await audit.verify_chains(session)


async def entry_id(db: Database, chain_id: uuid.UUID, seq: int) -> uuid.UUID:
    async with db.engine.connect() as conn:
        found = await conn.execute(
            select(AuditEvent.id).where(AuditEvent.chain_id == chain_id, AuditEvent.seq == seq)
        )
        return found.scalar_one()


async def test_verify_passes_on_an_intact_trail(committed_db: Database) -> None:
    await two_chains(committed_db)

    report = await verify(committed_db)

    assert report.ok
    assert report.problems == []
    assert report.entries == 8
    assert report.chains == 3  # two organizations and the installation chain


async def test_verify_names_an_altered_entry(committed_db: Database) -> None:
    tampered, intact = await two_chains(committed_db)
    target = await entry_id(committed_db, tampered, 3)
    async with as_intruder(committed_db) as conn:
        await conn.execute(
            update(AuditEvent)
            .where(AuditEvent.chain_id == tampered, AuditEvent.seq == 3)
            .values(details={"n": 99})
        )

    report = await verify(committed_db)

    assert not report.ok
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert (problem.chain_id, problem.organization_id) == (tampered, tampered)
    assert (problem.seq, problem.event_id) == (3, target)
    assert "altered" in problem.reason
    assert intact not in {p.chain_id for p in report.problems}


async def test_verify_names_an_entry_whose_hash_was_recomputed(committed_db: Database) -> None:
    """Rewriting an entry and its hash breaks the link from the next entry."""
    tampered, _ = await two_chains(committed_db)
    async with session_scope(committed_db) as session:
        event = (await chain_of(session, tampered))[1]
        event.action = "test.rewritten"
        rewritten = chaining.compute_hash(event)
        session.expunge(event)
    async with as_intruder(committed_db) as conn:
        await conn.execute(
            update(AuditEvent)
            .where(AuditEvent.id == event.id)
            .values(action="test.rewritten", hash=rewritten)
        )
    following = await entry_id(committed_db, tampered, 3)

    report = await verify(committed_db)

    assert [(p.seq, p.event_id) for p in report.problems] == [(3, following)]
    assert "prev_hash" in report.problems[0].reason


async def test_verify_reports_a_deleted_entry_as_a_sequence_gap(committed_db: Database) -> None:
    tampered, _ = await two_chains(committed_db)
    after_gap = await entry_id(committed_db, tampered, 3)
    async with as_intruder(committed_db) as conn:
        await conn.execute(
            delete(AuditEvent).where(AuditEvent.chain_id == tampered, AuditEvent.seq == 2)
        )

    report = await verify(committed_db)

    assert [(p.chain_id, p.seq, p.event_id) for p in report.problems] == [(tampered, 3, after_gap)]
    assert "sequence gap: expected 2, found 3" in report.problems[0].reason


async def test_verify_reports_a_removed_last_entry_by_the_chain_head(
    committed_db: Database,
) -> None:
    tampered, _ = await two_chains(committed_db)
    async with as_intruder(committed_db) as conn:
        await conn.execute(
            delete(AuditEvent).where(AuditEvent.chain_id == tampered, AuditEvent.seq == 4)
        )

    report = await verify(committed_db)

    assert len(report.problems) == 1
    problem = report.problems[0]
    assert (problem.chain_id, problem.organization_id) == (tampered, tampered)
    assert (problem.seq, problem.event_id) == (4, None)
    assert "chain head does not match" in problem.reason


async def test_verify_reads_every_batch(committed_db: Database) -> None:
    tampered, _ = await two_chains(committed_db, entries=6)
    async with as_intruder(committed_db) as conn:
        await conn.execute(
            update(AuditEvent)
            .where(AuditEvent.chain_id == tampered, AuditEvent.seq == 6)
            .values(action="test.altered")
        )

    async with session_scope(committed_db) as session:
        report = await audit.verify_chains(session, batch_size=2)

    assert [(p.chain_id, p.seq) for p in report.problems] == [(tampered, 6)]


# --- append-only on PostgreSQL ---------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'test.rewritten'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_the_application_role_can_only_append_and_read(
    session: AsyncSession, statement: str
) -> None:
    clinic = await create_org(session, "Clinic A")
    appended = await audit.record(session, action="test.appended")
    count = select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_id == clinic.id)
    assert await session.scalar(count) == 2
    # A table the application role may change, as a control.
    await session.execute(
        update(Organization).where(Organization.id == clinic.id).values(name="Renamed")
    )

    with pytest.raises(DBAPIError, match="permission denied for table audit_events"):
        async with session.begin_nested():
            await session.execute(text(statement))

    assert await session.scalar(count) == 2
    action = select(AuditEvent.action).where(AuditEvent.id == appended.id)
    assert await session.scalar(action) == "test.appended"


# --- one transaction with the change ---------------------------------------------------


async def test_a_failing_audit_write_takes_the_change_with_it(committed_db: Database) -> None:
    async with session_scope(committed_db) as session:
        clinic = await organizations.create_organization(session, name="Clinic A")
    # The database refuses the location's audit entry (as a full disk would refuse it).
    async with committed_db.engine.begin() as conn:
        for statement in REFUSE_LOCATION_ENTRY[committed_db.kind]:
            await conn.execute(text(statement))

    async def add_location() -> None:
        async with session_scope(committed_db) as session:
            await scope_to_tenant(session, clinic.id)
            await organizations.create_location(
                session, actor=SYSTEM, data=LocationWrite(name="North wing")
            )

    with pytest.raises(DBAPIError, match="audit entry refused"):
        await add_location()

    async with session_scope(committed_db) as session:
        await use_system_scope(session)
        actions = [e.action for e in await chain_of(session, clinic.id)]
        locations = await session.scalar(select(func.count()).select_from(Location))
    assert actions == ["organization.created"]
    assert locations == 0


REFUSE_LOCATION_ENTRY = {
    "sqlite": [
        "CREATE TRIGGER refuse_entry BEFORE INSERT ON audit_events"
        " WHEN NEW.action = 'location.created'"
        " BEGIN SELECT RAISE(ABORT, 'audit entry refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'audit entry refused'; END $$",
        "CREATE TRIGGER refuse_entry BEFORE INSERT ON audit_events FOR EACH ROW"
        " WHEN (NEW.action = 'location.created') EXECUTE FUNCTION refuse_entry()",
    ],
}


async def test_a_refusal_is_recorded_after_the_rollback_and_nothing_else(
    committed_db: Database,
) -> None:
    async with session_scope(committed_db) as session:
        clinic = await organizations.create_organization(session, name="Clinic A")
        doctor = await create_user(session, clinic, Role.DOCTOR)
    actor = actor_for(doctor)

    class Refused(Exception):
        pass

    async def refused_rename() -> None:
        async with committed_db.sessionmaker() as session, unit_of_work(session):
            await scope_to_tenant(session, clinic.id)
            renamed = await session.get_one(Organization, clinic.id)
            renamed.name = "Renamed"
            await audit.record(session, action="organization.updated", actor=actor)
            audit.record_if_rolled_back(
                session,
                action="auth.permission_denied",
                actor=actor,
                outcome=Outcome.DENIED,
                details={"permission": "admin:settings"},
            )
            raise Refused

    with pytest.raises(Refused):
        await refused_rename()

    async with session_scope(committed_db) as session:
        events = await chain_of(session, clinic.id)
        name = await session.scalar(select(Organization.name).where(Organization.id == clinic.id))
    assert name == "Clinic A"
    assert [e.action for e in events] == [
        "organization.created",
        "user.created",
        "auth.permission_denied",
    ]
    denied = events[-1]
    assert denied.outcome == "denied"
    assert denied.actor_user_id == doctor.id
    assert denied.details == {"permission": "admin:settings"}
    assert_linked(events)
    assert (await verify(committed_db)).ok


async def test_a_refusal_entry_is_dropped_when_the_unit_of_work_commits(
    committed_db: Database,
) -> None:
    async with session_scope(committed_db) as session:
        clinic = await organizations.create_organization(session, name="Clinic A")

    async with session_scope(committed_db) as session:
        await scope_to_tenant(session, clinic.id)
        audit.record_if_rolled_back(session, action="auth.permission_denied")
        await audit.record(session, action="test.committed")

    async with session_scope(committed_db) as session:
        actions = [e.action for e in await chain_of(session, clinic.id)]
    assert actions == ["organization.created", "test.committed"]
