"""Recalls: the follow-ups a doctor plans in the chart (``recalls``, row-level security on
PostgreSQL like the other tenant tables), and ``messages.recall_id`` (the recall message
of one, so it is planned once and withdrawn when the recall is booked or cancelled).

Revision ID: 0029_recalls
Revises: 0028_no_show_risk
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

revision: str = "0029_recalls"
down_revision: str | None = "0028_no_show_risk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recalls",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("encounter_id", sa.Uuid(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("type_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("booked_appointment_id", sa.Uuid(), nullable=True),
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
            ["booked_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_recalls_booked_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_recalls_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_recalls_encounter_id_encounters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_recalls_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_recalls_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["appointment_types.id"],
            name=op.f("fk_recalls_type_id_appointment_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalls")),
    )
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.create_index("ix_recalls_patient", ["patient_id", "status"], unique=False)
        batch_op.create_index("ix_recalls_status_due", ["status", "due_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recalls_organization_id"), ["organization_id"], unique=False
        )
    enable_tenant_rls("recalls")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recall_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_recall_id_recalls"),
            "recalls",
            ["recall_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_messages_recall", ["recall_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_recall")
        batch_op.drop_constraint(batch_op.f("fk_messages_recall_id_recalls"), type_="foreignkey")
        batch_op.drop_column("recall_id")
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recalls_organization_id"))
        batch_op.drop_index("ix_recalls_status_due")
        batch_op.drop_index("ix_recalls_patient")
    op.drop_table("recalls")
