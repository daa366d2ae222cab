"""Staff alerts: the in-app alerts of staff members (an alert and a row per recipient
with its read mark), with row-level security on PostgreSQL like the other tenant tables.

Revision ID: 0027_staff_alerts
Revises: 0026_notifications
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

TABLES = ("staff_alerts", "staff_alert_recipients")

revision: str = "0027_staff_alerts"
down_revision: str | None = "0026_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD = sa.text("read_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_user_id", sa.Uuid(), nullable=True),
        sa.Column("recipient_role", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_staff_alerts_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_staff_alerts_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["users.id"],
            name=op.f("fk_staff_alerts_recipient_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_alerts")),
    )
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_staff_alerts_created", ["organization_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_alerts_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_alerts_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "staff_alert_recipients",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["staff_alerts.id"],
            name=op.f("fk_staff_alert_recipients_alert_id_staff_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_staff_alert_recipients_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_alert_recipients_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "user_id", name=op.f("pk_staff_alert_recipients")),
    )
    with op.batch_alter_table("staff_alert_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_staff_alert_recipients_inbox",
            ["organization_id", "user_id", "alert_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_staff_alert_recipients_unread",
            ["organization_id", "user_id", "alert_id"],
            unique=False,
            postgresql_where=UNREAD,
            sqlite_where=UNREAD,
        )
        batch_op.create_index(
            batch_op.f("ix_staff_alert_recipients_organization_id"),
            ["organization_id"],
            unique=False,
        )
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("staff_alert_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_alert_recipients_organization_id"))
        batch_op.drop_index("ix_staff_alert_recipients_unread")
        batch_op.drop_index("ix_staff_alert_recipients_inbox")
    op.drop_table("staff_alert_recipients")
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_alerts_patient_id"))
        batch_op.drop_index(batch_op.f("ix_staff_alerts_organization_id"))
        batch_op.drop_index("ix_staff_alerts_created")
    op.drop_table("staff_alerts")
