"""Day close: a location's closed business day and its lines (per method, per user),
with row-level security on PostgreSQL like the other tenant tables.

Revision ID: 0025_day_close
Revises: 0021_payments
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

TABLES = ("day_closings", "day_closing_lines")

revision: str = "0025_day_close"
down_revision: str | None = "0024_billing_aging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _entity() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "day_closings",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("location_key", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by_id", sa.Uuid(), nullable=True),
        sa.Column("expected_total", sa.BigInteger(), nullable=False),
        sa.Column("counted_total", sa.BigInteger(), nullable=False),
        sa.Column("difference_total", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        *_entity(),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
            name=op.f("fk_day_closings_closed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_day_closings_location_id_locations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_day_closings_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_closings")),
        sa.UniqueConstraint(
            "organization_id", "location_key", "business_date", name="uq_day_closings_day"
        ),
    )
    with op.batch_alter_table("day_closings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_day_closings_date", ["organization_id", "business_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_day_closings_organization_id"), ["organization_id"], unique=False
        )
    op.create_table(
        "day_closing_lines",
        sa.Column("closing_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=True),
        sa.Column("difference", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        *_entity(),
        sa.ForeignKeyConstraint(
            ["closing_id"],
            ["day_closings.id"],
            name=op.f("fk_day_closing_lines_closing_id_day_closings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_day_closing_lines_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_day_closing_lines_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_closing_lines")),
    )
    with op.batch_alter_table("day_closing_lines", schema=None) as batch_op:
        batch_op.create_index("ix_day_closing_lines_closing", ["closing_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_day_closing_lines_organization_id"), ["organization_id"], unique=False
        )
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("day_closing_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_day_closing_lines_organization_id"))
        batch_op.drop_index("ix_day_closing_lines_closing")
    op.drop_table("day_closing_lines")
    with op.batch_alter_table("day_closings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_day_closings_organization_id"))
        batch_op.drop_index("ix_day_closings_date")
    op.drop_table("day_closings")
