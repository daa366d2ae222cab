"""The sign-in page names the clinic on PostgreSQL too: ``clinicdesk_sole_organization_name()``
(SECURITY DEFINER, the one active organization's name or NULL), for the application role,
which sees no organization before sign-in.

Revision ID: 0011_sign_in_clinic_name
Revises: 0010_provider_rooms
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from clinicdesk.core.rls import install_functions

revision: str = "0011_sign_in_clinic_name"
down_revision: str | None = "0010_provider_rooms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_functions()  # PostgreSQL only; creates the new function, keeps the others


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clinicdesk_sole_organization_name()")
