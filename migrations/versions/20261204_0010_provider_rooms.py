"""The room each provider last called a patient to at a location (``provider_rooms``):
the call offers it first, on any device.

Revision ID: 0010_provider_rooms
Revises: 0009_audit_chaining
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

revision: str = "0010_provider_rooms"
down_revision: str | None = "0009_audit_chaining"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_rooms",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("room", sa.String(length=40), nullable=False),
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
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_provider_rooms_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_provider_rooms_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_rooms_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_rooms")),
        sa.UniqueConstraint(
            "provider_id", "location_id", name=op.f("uq_provider_rooms_provider_id_location_id")
        ),
    )
    with op.batch_alter_table("provider_rooms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_rooms_organization_id"), ["organization_id"], unique=False
        )
    enable_tenant_rls("provider_rooms")


def downgrade() -> None:
    op.drop_table("provider_rooms")
