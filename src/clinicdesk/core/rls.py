"""PostgreSQL row-level security and privileges, for use in migrations and deployment.

Every tenant table gets a policy that admits a row only when its organization is the
transaction's ``app.organization_id`` (set by ``clinicdesk.core.tenancy``), or when the
transaction runs in the system scope (``app.bypass_rls = on``). ``FORCE ROW LEVEL
SECURITY`` applies the policy to the tables' owner too; only superusers and roles with
BYPASSRLS escape it. A connection that set no tenant sees no rows.

The application should connect as a role that does not own the tables
(``CLINICDESK_DATABASE_URL``) while migrations run as the owner
(``CLINICDESK_DATABASE_OWNER_URL``); ``grant_application_role`` gives the application
role what it needs, and no more: the audit trail is insert-only.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

POLICY = "tenant_isolation"
APPEND_ONLY_TABLES = ("audit_events",)


def _tenant_condition(column: str) -> str:
    return (
        f"({column} = NULLIF(current_setting('app.organization_id', true), '')::uuid"
        " OR current_setting('app.bypass_rls', true) = 'on')"
    )


def enable_tenant_rls(table: str, column: str = "organization_id") -> None:
    """In a migration: isolate ``table`` by ``column`` (PostgreSQL only; a no-op on SQLite,
    where the application-level scoping is the only guard)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    condition = _tenant_condition(column)
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING {condition} WITH CHECK {condition}')


def grant_application_role(connection: Connection, role: str) -> None:
    """Let ``role`` read and write the tables, but only read and append the audit trail
    and only read the migration state. Safe to run again after every upgrade."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {quoted}",
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}')
    for statement in statements:
        connection.execute(text(statement))


def is_table_owner(connection: Connection, table: str) -> bool:
    """Whether the connected role owns ``table`` (then the audit trail is not protected)."""
    owner = connection.execute(
        text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = :t"),
        {"t": table},
    ).scalar_one_or_none()
    return owner is not None and owner == connection.execute(text("SELECT current_user")).scalar()
