"""What the patients domain announces to the domains that react to it (``core.signals``).

Handlers run in the announcing transaction; see ``clinicdesk.reactions`` for who listens.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from clinicdesk.core.actor import Actor
from clinicdesk.core.signals import Signal


@dataclass(frozen=True, slots=True)
class PatientMerged:
    """A duplicate record is being merged into the kept one (same organization)."""

    actor: Actor
    kept_id: uuid.UUID
    duplicate_id: uuid.UUID
    reason: str


patient_merged: Signal[PatientMerged, Mapping[str, int]] = Signal("patient_merged")
"""Each handler moves its own domain's rows that point at the duplicate to the kept
record, keeping that domain's invariants and recording an audit entry on every moved
record, and answers ``{table: rows moved}`` for *every* table of ``patients`` it looks
after (0 included). ``tests/patients/test_merge.py`` fails while a table that points at
``patients`` is looked after by nobody, so a new domain cannot forget its rows."""
