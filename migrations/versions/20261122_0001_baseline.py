"""Baseline: the empty schema every ClinicDesk database starts from.

Domain tables arrive in the revisions that follow, one per change of the models.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to create yet; the revision gives every database a known starting point."""


def downgrade() -> None:
    """Nothing to drop."""
