"""Row-level security without a bypass setting: the owner is exempt, the app role never.

Until now every policy also admitted rows when ``app.bypass_rls`` was ``on``, a setting
any session (an SQL injection included) could switch on; and ``FORCE ROW LEVEL
SECURITY`` subjected the owner too, so a non-superuser owner could not migrate. Now the
policies know only ``app.organization_id`` (plus the installation's own rows), the owner
is exempt (not forced), and the few cross-organization questions the application must
ask are ``SECURITY DEFINER`` functions (``clinicdesk.core.rls.FUNCTIONS``).

Revision ID: 0007_rls_no_bypass
Revises: 0006_jobs
Create Date: 2026-12-04 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from clinicdesk.core.rls import FUNCTIONS, POLICY, install_functions, tenant_condition

revision: str = "0007_rls_no_bypass"
down_revision: str | None = "0006_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_COLUMN = {"organizations": "id", "audit_chain_heads": "chain_id"}


def _policed_tables() -> list[str]:
    rows = op.get_bind().execute(
        text(
            "SELECT tablename FROM pg_policies WHERE schemaname = 'public'"
            " AND policyname = :p ORDER BY tablename"
        ),
        {"p": POLICY},
    )
    return [str(name) for name in rows.scalars()]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _policed_tables():
        condition = tenant_condition(table, _KEY_COLUMN.get(table, "organization_id"))
        op.execute(f'DROP POLICY {POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING {condition} WITH CHECK {condition}')
    install_functions()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for table in _policed_tables():
        column = _KEY_COLUMN.get(table, "organization_id")
        condition = (
            f"({column} = NULLIF(current_setting('app.organization_id', true), '')::uuid"
            " OR current_setting('app.bypass_rls', true) = 'on')"
        )
        op.execute(f'DROP POLICY {POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING {condition} WITH CHECK {condition}')
