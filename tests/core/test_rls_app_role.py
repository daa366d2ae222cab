"""The server's database role cannot widen its view to another organization.

Connected as the application role (not the owner, not a superuser), scoped to clinic A,
the test tries every switch an SQL injection could reach for — the old bypass setting,
in every form, becoming the owner, switching row security off, changing the policies —
and counts clinic B's rows in every table that has a policy: always 0. What the role can
still do by design (name an organization's id in ``app.organization_id``, which is how
it serves each request) is the documented limit, see README "PostgreSQL".
"""

from __future__ import annotations

import re
import uuid

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clinicdesk.core import migrations
from clinicdesk.core.db import Database, create_database
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.mail import OutgoingMail
from clinicdesk.core.rls import FUNCTIONS, LOOKUPS, POLICY, TENANT_SETTING
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import Role
from tests.support.identity import create_org, create_user
from tests.support.patients import register_patient
from tests.support.postgres import APP_ROLE

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

_KEY_COLUMN = {"organizations": "id", "audit_chain_heads": "chain_id"}

# Each attempt runs (statement by statement) in a savepoint of its own, scoped to A.
OWNER = "{owner}"
ATTEMPTS: list[list[str]] = [
    ["SELECT set_config('app.bypass_rls', 'on', false)"],
    ["SELECT set_config('app.bypass_rls', 'on', true)"],
    ["SET app.bypass_rls = 'on'"],
    ["SET LOCAL app.bypass_rls = 'on'"],
    ["SELECT set_config('app.organization_id', '', false)", "SET app.bypass_rls = 'on'"],
    ["RESET app.organization_id", "SET LOCAL app.bypass_rls = 'on'"],
    ["SET row_security = off"],
    [f"SET ROLE {OWNER}"],
    [f"SET LOCAL ROLE {OWNER}"],
    [f"SELECT set_config('role', '{OWNER}', false)"],
    [f"SET SESSION AUTHORIZATION {OWNER}"],
    [f"SELECT set_config('session_authorization', '{OWNER}', true)"],
    ["RESET ROLE"],
    ["RESET SESSION AUTHORIZATION"],
    [f"GRANT {OWNER} TO {APP_ROLE}"],
    ["ALTER TABLE users DISABLE ROW LEVEL SECURITY"],
    ["ALTER TABLE users NO FORCE ROW LEVEL SECURITY"],
    [f"DROP POLICY {POLICY} ON users"],
    [f"ALTER POLICY {POLICY} ON users USING (true)"],
    ["CREATE POLICY everything ON users USING (true)"],
    ["ALTER TABLE users OWNER TO " + APP_ROLE],
    ["SELECT clinicdesk_tenant_of('patients', 'organization_id', '{b}')"],
    ["SELECT clinicdesk_tenant_of('users', 'organization_id', '{b}')"],
]


async def _policed_tables(connection: AsyncConnection) -> list[str]:
    rows = await connection.execute(
        text(
            "SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = :p"
            " ORDER BY tablename"
        ),
        {"p": POLICY},
    )
    return [str(t) for t in rows.scalars()]


async def _rows_of(
    connection: AsyncConnection, tables: list[str], org: uuid.UUID
) -> dict[str, int]:
    """How many of ``org``'s rows each table shows to this transaction."""
    # Table names come from pg_policies, never from input.
    counts = []
    for t in tables:
        column = _KEY_COLUMN.get(t, "organization_id")
        table_sql = f'"{t}" WHERE "{column}"'
        counts.append(f"SELECT '{t}', count(*) FROM {table_sql} = CAST(:org AS uuid)")  # noqa: S608
    union = " UNION ALL ".join(counts)
    rows = await connection.execute(text(union), {"org": str(org)})
    return {str(table): int(count) for table, count in rows.all()}


async def test_no_switch_widens_the_app_roles_view(session: AsyncSession) -> None:
    a = await create_org(session, "Clinic A")
    await create_user(session, a, Role.DOCTOR)
    b = await create_org(session, "Clinic B")
    b_user = await create_user(session, b, Role.DOCTOR)
    await scope_to_tenant(session, b.id)
    await register_patient(session)
    await send_mail(session, OutgoingMail(to=b_user.email, subject="Hello", text="Hello"))
    await session.flush()
    a_id, b_id = a.id, b.id

    connection = await session.connection()
    tables = await _policed_tables(connection)
    seen_by_b = await _rows_of(connection, tables, b_id)
    # The check can fail: B's rows are there for B to see, in these tables at least.
    for table in ("organizations", "users", "audit_events", "audit_chain_heads", "patients"):
        assert seen_by_b[table] > 0, table
    assert seen_by_b["jobs"] > 0

    await scope_to_tenant(session, a_id)
    owner = (
        await connection.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'users'"))
    ).scalar_one()
    assert await _rows_of(connection, tables, b_id) == dict.fromkeys(tables, 0)

    outcomes: dict[str, str] = {}
    for attempt in ATTEMPTS:
        statements = [s.replace(OWNER, str(owner)).replace("{b}", str(b_id)) for s in attempt]
        label = "; ".join(statements)
        await connection.execute(text("SAVEPOINT attempt"))
        try:
            for statement in statements:
                await connection.execute(text(statement))
            seen = await _rows_of(connection, tables, b_id)
            role = (await connection.execute(text("SELECT current_user"))).scalar_one()
        except DBAPIError as refused:
            outcomes[label] = f"refused: {str(refused.orig).splitlines()[0][:80]}"
        else:
            leaked = {t: n for t, n in seen.items() if n}
            assert leaked == {}, f"{label!r} let clinic A's transaction see clinic B: {leaked}"
            assert role == APP_ROLE, label
            outcomes[label] = "allowed, sees nothing of B"
        finally:
            await connection.execute(text("ROLLBACK TO SAVEPOINT attempt"))
    assert len(outcomes) == len(ATTEMPTS)
    # The role-changing and policy-changing attempts are refused outright.
    refusals = [label for label, outcome in outcomes.items() if outcome.startswith("refused")]
    for keyword in ("SET ROLE", "SESSION AUTHORIZATION", "POLICY", "GRANT", "OWNER TO"):
        assert any(keyword in label for label in refusals), (keyword, outcomes)


async def test_the_role_and_the_policies_leave_no_way_around(session: AsyncSession) -> None:
    connection = await session.connection()
    role = (
        await connection.execute(
            text(
                "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles"
                " WHERE rolname = current_user"
            )
        )
    ).one()
    assert tuple(role) == (False, False, False)
    owners = (
        await connection.execute(
            text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        )
    ).scalars()
    for owner in owners:
        assert owner != APP_ROLE
        member = await connection.execute(
            text("SELECT pg_has_role(current_user, :o, 'MEMBER')"), {"o": owner}
        )
        assert member.scalar_one() is False
    # The policies read one setting, the tenant; there is no bypass setting to find.
    expressions = (
        await connection.execute(
            text("SELECT qual || ' ' || with_check FROM pg_policies WHERE schemaname = 'public'")
        )
    ).scalars()
    settings = {s for e in expressions for s in re.findall(r"current_setting\('([^']+)'", e)}
    assert settings == {TENANT_SETTING}
    # Every table with an organization_id has row-level security and the policy.
    unpoliced = (
        await connection.execute(
            text(
                "SELECT c.table_name FROM information_schema.columns c"
                " JOIN pg_class r ON r.relname = c.table_name"
                " WHERE c.table_schema = 'public' AND c.column_name = 'organization_id'"
                " AND (NOT r.relrowsecurity OR NOT EXISTS (SELECT 1 FROM pg_policies p"
                "  WHERE p.tablename = c.table_name AND p.policyname = :p))"
            ),
            {"p": POLICY},
        )
    ).scalars()
    assert list(unpoliced) == []
    # The owner's functions run with a fixed search path (no hijack by a temp schema).
    for signature in FUNCTIONS:
        config = (
            await connection.execute(
                text("SELECT proconfig FROM pg_proc WHERE oid = to_regprocedure(:s)"),
                {"s": signature},
            )
        ).scalar_one()
        assert any(c.startswith("search_path=") for c in config), signature


async def test_the_lookup_tells_an_organization_for_a_listed_secret_only(
    session: AsyncSession,
) -> None:
    clinic = await create_org(session, "Clinic A")
    doctor = await create_user(session, clinic, Role.DOCTOR)
    clinic_id, email = clinic.id, doctor.email
    connection = await session.connection()
    lookup = text("SELECT clinicdesk_tenant_of(:t, :c, :k)")
    found = await connection.execute(lookup, {"t": "users", "c": "email", "k": email})
    assert found.scalar_one() == clinic_id
    missing = await connection.execute(lookup, {"t": "users", "c": "email", "k": "x@y.example"})
    assert missing.scalar_one() is None
    assert ("users", "full_name") not in LOOKUPS
    await connection.execute(text("SAVEPOINT refused"))
    with pytest.raises(DBAPIError, match="no cross-organization lookup"):
        await connection.execute(lookup, {"t": "users", "c": "full_name", "k": "Test doctor"})
    await connection.execute(text("ROLLBACK TO SAVEPOINT refused"))


async def test_the_migration_turns_the_bypass_policies_into_plain_ones(
    migrated_database_url: str,
) -> None:
    """A database at 0006 has the old policies (the bypass setting, FORCE); 0007 leaves
    none of it, and undoing it brings it back. (A fresh database gets the new policies
    from the first migrations on, so this is the path an existing installation takes.)"""

    async def state(db: Database) -> tuple[int, int]:
        """(policies with the bypass setting, tables forced), out of every policed table."""
        async with db.engine.connect() as connection:
            bypassing = await connection.scalar(
                text("SELECT count(*) FROM pg_policies WHERE qual LIKE '%app.bypass_rls%'")
            )
            forced = await connection.scalar(
                text("SELECT count(*) FROM pg_class WHERE relforcerowsecurity")
            )
        return int(bypassing or 0), int(forced or 0)

    def downgrade(connection: Connection) -> None:
        config = migrations.alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006_jobs")

    db = create_database(migrated_database_url, pool_size=1)
    try:
        await migrations.upgrade(db)
        assert await state(db) == (0, 0)
        async with db.engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with db.engine.connect() as connection:
            policed = len(await _policed_tables(connection))
        assert policed > 30
        assert await state(db) == (policed, policed)
        await migrations.upgrade(db)
        assert await state(db) == (0, 0)
    finally:
        await db.dispose()
