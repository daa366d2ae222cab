"""Audit entries take their place in the chain after their transaction commits.

``seq``, ``prev_hash`` and ``hash`` may be empty until the chaining step fills them in
(``clinicdesk.audit.chaining``); a partial index holds the entries still waiting. On
PostgreSQL the application role may fill in those three columns and nothing else, once:
a trigger refuses any change to a chained entry, and ``clinicdesk_unchained_audit_chains``
tells the chaining step which chains have entries waiting, across organizations.

Revision ID: 0009_audit_chaining
Revises: 0008_restricted_records
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import CHAINED_ONCE, install_functions

revision: str = "0009_audit_chaining"
down_revision: str | None = "0008_restricted_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLACE = (
    ("seq", sa.Integer()),
    ("prev_hash", sa.String(length=64)),
    ("hash", sa.String(length=64)),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name, type_ in _PLACE:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        batch_op.create_index(
            "ix_audit_events_waiting",
            ["chain_id", "occurred_at"],
            unique=False,
            sqlite_where=sa.text("seq IS NULL"),
            postgresql_where=sa.text("seq IS NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        install_functions()
        for statement in CHAINED_ONCE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_chained_once ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS clinicdesk_audit_chained_once()")
        op.execute("DROP FUNCTION IF EXISTS clinicdesk_unchained_audit_chains()")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_waiting")
        for name, type_ in _PLACE:
            # Entries written but not yet chained cannot go back to a NOT NULL column.
            batch_op.alter_column(name, existing_type=type_, nullable=False)
