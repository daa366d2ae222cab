"""Billing: the aging report's partial index (``ix_invoices_outstanding``): the invoices
with something due, keyed by patient, holding the columns the report reads.

Revision ID: 0024_billing_aging
Revises: 0020_billing
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_billing_aging"
down_revision: str | None = "0022_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTSTANDING = "status <> 'draft' AND amount_due > 0"


def upgrade() -> None:
    op.create_index(
        "ix_invoices_outstanding",
        "invoices",
        ["organization_id", "patient_id", "issue_date", "amount_due", "location_id", "currency"],
        unique=False,
        sqlite_where=sa.text(OUTSTANDING),
        postgresql_where=sa.text(OUTSTANDING),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_outstanding", table_name="invoices")
