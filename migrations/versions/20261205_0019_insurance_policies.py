"""Payers and patient insurance policies (``payers``, ``insurance_policies``).

A patient had one payer name and one member number on the record; now a patient has a
list of policies. Upgrade moves every patient's payer and member number into a primary
policy (no validity dates, relationship "self"), with one ``payers`` row per organization
and distinct payer name (compared without case and surrounding spaces; a member number
with no payer name goes under "Unspecified payer"), then drops the three old columns of
``patients``: the search, the merge and the forms read the policies now. The member
number moves as stored (its ciphertext and its lookup hash carry no associated data), so
no key is needed here. Downgrade puts each patient's primary policy that is not ended
(the newest, if several) back on the record and drops the tables: the other policies
are lost, which is what going back to one payer per patient means.

Revision ID: 0019_insurance_policies
Revises: 0018_prescription_sheets
Create Date: 2026-12-05 06:50:53.122847
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from clinicdesk.core.rls import enable_tenant_rls

revision: str = "0019_insurance_policies"
down_revision: str | None = "0018_prescription_sheets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSPECIFIED_PAYER = "Unspecified payer"
_OLD_COLUMNS = ("insurance_payer", "insurance_member_number", "insurance_member_hash")
_patients = sa.table(
    "patients",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("insurance_payer", sa.String()),
    sa.column("insurance_member_number", sa.Text()),
    sa.column("insurance_member_hash", sa.String()),
)
_payers = sa.table(
    "payers",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_policies = sa.table(
    "insurance_policies",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("patient_id", sa.Uuid()),
    sa.column("payer_id", sa.Uuid()),
    sa.column("priority", sa.String()),
    sa.column("relationship", sa.String()),
    sa.column("member_number", sa.Text()),
    sa.column("member_number_hash", sa.String()),
    sa.column("ended_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "payers",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
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
            name=op.f("fk_payers_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_payers_organization_id_name")),
    )
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payers_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "insurance_policies",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("member_number", sa.Text(), nullable=True),
        sa.Column("member_number_hash", sa.String(length=80), nullable=True),
        sa.Column("group_number", sa.String(length=64), nullable=True),
        sa.Column("plan_name", sa.String(length=100), nullable=True),
        sa.Column("relationship", sa.String(length=16), nullable=False),
        sa.Column("subscriber_name", sa.String(length=200), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("eligibility_notes", sa.Text(), nullable=True),
        sa.Column("eligibility_checked_on", sa.Date(), nullable=True),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Uuid(), nullable=True),
        sa.Column("end_reason", sa.String(length=300), nullable=True),
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
            ["ended_by_id"],
            ["users.id"],
            name=op.f("fk_insurance_policies_ended_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_insurance_policies_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_insurance_policies_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["payers.id"],
            name=op.f("fk_insurance_policies_payer_id_payers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_insurance_policies_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_policies")),
    )
    with op.batch_alter_table("insurance_policies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insurance_policies_org_member_hash",
            ["organization_id", "member_number_hash"],
            unique=False,
            sqlite_where=sa.text("member_number_hash IS NOT NULL"),
            postgresql_where=sa.text("member_number_hash IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_policies_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index("ix_insurance_policies_patient_id", ["patient_id"], unique=False)
        batch_op.create_index("ix_insurance_policies_payer_id", ["payer_id"], unique=False)

    enable_tenant_rls("payers")
    enable_tenant_rls("insurance_policies")
    _move_to_policies()
    op.drop_index("ix_patients_org_insurance_hash", table_name="patients")
    # Plain ALTER TABLE on both databases (SQLite 3.35+): a batch rebuild of ``patients``
    # would drop the table every other table points at.
    for column in _OLD_COLUMNS:
        op.execute(f"ALTER TABLE patients DROP COLUMN {column}")


def _move_to_policies() -> None:
    """Each patient's payer and member number become a primary policy."""
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(
            _patients.c.id,
            _patients.c.organization_id,
            _patients.c.insurance_payer,
            _patients.c.insurance_member_number,
            _patients.c.insurance_member_hash,
        )
        .where(
            sa.or_(
                _patients.c.insurance_payer.is_not(None),
                _patients.c.insurance_member_number.is_not(None),
            )
        )
        .order_by(_patients.c.organization_id, _patients.c.id)
    ).all()
    payers: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    new_payers: list[dict[str, object]] = []
    policies: list[dict[str, object]] = []
    for patient_id, organization_id, payer_name, member, member_hash in rows:
        name = " ".join((payer_name or "").split()) or UNSPECIFIED_PAYER
        key = (organization_id, name.casefold())
        if key not in payers:
            payers[key] = uuid.uuid4()
            new_payers.append(
                {
                    "id": payers[key],
                    "organization_id": organization_id,
                    "name": name[:100],
                    "active": True,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        policies.append(
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "patient_id": patient_id,
                "payer_id": payers[key],
                "priority": "primary",
                "relationship": "self",
                "member_number": member or None,
                "member_number_hash": member_hash if member else None,
                "ended_at": None,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    for start in range(0, len(new_payers), _BATCH):
        connection.execute(sa.insert(_payers), new_payers[start : start + _BATCH])
    for start in range(0, len(policies), _BATCH):
        connection.execute(sa.insert(_policies), policies[start : start + _BATCH])


def _move_back() -> None:
    """Each patient's primary policy that is not ended (the newest) back on the record."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _policies.c.patient_id,
            _payers.c.name,
            _policies.c.member_number,
            _policies.c.member_number_hash,
        )
        .join(_payers, _payers.c.id == _policies.c.payer_id)
        .where(_policies.c.priority == "primary", _policies.c.ended_at.is_(None))
        .order_by(_policies.c.patient_id, _policies.c.created_at.desc())
    ).all()
    done: set[uuid.UUID] = set()
    for patient_id, payer_name, member, member_hash in rows:
        if patient_id in done:
            continue
        done.add(patient_id)
        connection.execute(
            sa.update(_patients)
            .where(_patients.c.id == patient_id)
            .values(
                insurance_payer=None if payer_name == UNSPECIFIED_PAYER else payer_name,
                insurance_member_number=member,
                insurance_member_hash=member_hash,
            )
        )


def downgrade() -> None:
    op.add_column("patients", sa.Column("insurance_payer", sa.String(length=100), nullable=True))
    op.add_column("patients", sa.Column("insurance_member_number", sa.Text(), nullable=True))
    op.add_column(
        "patients", sa.Column("insurance_member_hash", sa.String(length=80), nullable=True)
    )
    op.create_index(
        "ix_patients_org_insurance_hash",
        "patients",
        ["organization_id", "insurance_member_hash"],
        unique=False,
        sqlite_where=sa.text("insurance_member_hash IS NOT NULL"),
        postgresql_where=sa.text("insurance_member_hash IS NOT NULL"),
    )
    _move_back()

    with op.batch_alter_table("insurance_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_insurance_policies_payer_id")
        batch_op.drop_index("ix_insurance_policies_patient_id")
        batch_op.drop_index(batch_op.f("ix_insurance_policies_organization_id"))
        batch_op.drop_index(
            "ix_insurance_policies_org_member_hash",
            sqlite_where=sa.text("member_number_hash IS NOT NULL"),
            postgresql_where=sa.text("member_number_hash IS NOT NULL"),
        )

    op.drop_table("insurance_policies")
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payers_organization_id"))

    op.drop_table("payers")
