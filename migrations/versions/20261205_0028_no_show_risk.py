"""No-show risk: the organizations' fitted models (``no_show_models``, row-level security
on PostgreSQL like the other tenant tables), each appointment's predicted risk
(``appointments.no_show_risk``), and ``clinicdesk_active_organization_ids()`` (SECURITY
DEFINER: the ids of the active organizations, for the nightly training's system job).

Revision ID: 0028_no_show_risk
Revises: 0027_staff_alerts
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls, install_functions

revision: str = "0028_no_show_risk"
down_revision: str | None = "0027_staff_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "no_show_models",
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("base_rate", sa.Float(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_no_show_models_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_no_show_models")),
    )
    with op.batch_alter_table("no_show_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_no_show_models_trained", ["organization_id", "trained_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_no_show_models_organization_id"), ["organization_id"], unique=False
        )
    enable_tenant_rls("no_show_models")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_show_risk", sa.Float(), nullable=True))
    install_functions()  # PostgreSQL only; creates the new function, keeps the others


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clinicdesk_active_organization_ids()")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("no_show_risk")
    with op.batch_alter_table("no_show_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_no_show_models_organization_id"))
        batch_op.drop_index("ix_no_show_models_trained")
    op.drop_table("no_show_models")
