"""Restricted records and emergency access: ``patients.restricted`` and the grants that
open a restricted record (care team, break-glass).

Revision ID: 0008_restricted_records
Revises: 0007_rls_no_bypass
Create Date: 2026-12-04 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

revision: str = "0008_restricted_records"
down_revision: str | None = "0007_rls_no_bypass"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.create_table(
        "patient_access_grants",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_patient_access_grants_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_access_grants_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patient_access_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_access_grants")),
    )
    with op.batch_alter_table("patient_access_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_access_grants_organization_id"),
            ["organization_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_patient_access_grants_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_patient_access_grants_user_patient", ["user_id", "patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_patient_access_grants_org_kind_created",
            ["organization_id", "kind", "created_at"],
            unique=False,
        )
    enable_tenant_rls("patient_access_grants")


def downgrade() -> None:
    op.drop_table("patient_access_grants")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("restricted")
