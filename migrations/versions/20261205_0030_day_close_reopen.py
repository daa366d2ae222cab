"""Day close reopen: a closing an admin reopened keeps its row with who reopened it, when
and why (``reopened_at``, ``reopened_by_id``, ``reopen_reason``); the next close writes a
new row, so the one-closing-per-day unique constraint becomes a partial unique index over
the closings in force (``reopened_at IS NULL``).

Revision ID: 0030_day_close_reopen
Revises: 0029_recalls
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_day_close_reopen"
down_revision: str | None = "0029_recalls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FORCE = sa.text("reopened_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("day_closings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reopened_by_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("reopen_reason", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_day_closings_reopened_by_id_users"),
            "users",
            ["reopened_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint("uq_day_closings_day", type_="unique")
        batch_op.create_index(
            "uq_day_closings_day_in_force",
            ["organization_id", "location_key", "business_date"],
            unique=True,
            sqlite_where=IN_FORCE,
            postgresql_where=IN_FORCE,
        )


def downgrade() -> None:
    # Reopened closings are history the one-per-day constraint cannot hold: they go.
    op.execute(
        "DELETE FROM day_closing_lines WHERE closing_id IN "
        "(SELECT id FROM day_closings WHERE reopened_at IS NOT NULL)"
    )
    op.execute("DELETE FROM day_closings WHERE reopened_at IS NOT NULL")
    with op.batch_alter_table("day_closings", schema=None) as batch_op:
        batch_op.drop_index("uq_day_closings_day_in_force")
        batch_op.create_unique_constraint(
            "uq_day_closings_day", ["organization_id", "location_key", "business_date"]
        )
        batch_op.drop_constraint(
            batch_op.f("fk_day_closings_reopened_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("reopen_reason")
        batch_op.drop_column("reopened_by_id")
        batch_op.drop_column("reopened_at")
