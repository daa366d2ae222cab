"""What the clinical domain announces to the domains above it (``core.signals``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clinicdesk.core.actor import Actor
from clinicdesk.core.signals import Signal


@dataclass(frozen=True, slots=True)
class EncounterFinished:
    """A consultation is finished (its note signed): billing drafts the invoice."""

    actor: Actor
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID | None
    appointment_id: uuid.UUID | None


encounter_finished: Signal[EncounterFinished, None] = Signal("encounter_finished")
"""Sent in the finishing transaction, after the encounter's audit entry."""


@dataclass(frozen=True, slots=True)
class ResultsEntered:
    """Results were entered onto an order: the doctor who ordered it has them to review
    (notifications tells them). ``urgency`` is the most urgent of them: "critical",
    "abnormal" or "normal"."""

    actor: Actor
    order_id: uuid.UUID
    order_name: str
    patient_id: uuid.UUID
    ordered_by_id: uuid.UUID | None
    count: int
    urgency: str


results_entered: Signal[ResultsEntered, None] = Signal("results_entered")
"""Sent in the entering transaction, after the results' and the order's audit entries."""
