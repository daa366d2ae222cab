"""What the queue announces to the domains that react to it (``core.signals``).

Handlers run in the visit step's own transaction; see ``clinicdesk.reactions``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clinicdesk.core.actor import Actor
from clinicdesk.core.signals import Signal


@dataclass(frozen=True, slots=True)
class VisitStarted:
    """A consultation began: the provider took the patient in (``provider_id`` is set)."""

    actor: Actor
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    appointment_id: uuid.UUID | None


visit_started: Signal[VisitStarted, None] = Signal("visit_started")
"""Sent once the visit is in consultation and audited; the consultation's encounter opens."""


@dataclass(frozen=True, slots=True)
class VisitFinished:
    """A consultation ended: the visit is done (its appointment, if any, fulfilled)."""

    actor: Actor
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID | None
    location_id: uuid.UUID
    appointment_id: uuid.UUID | None


visit_finished: Signal[VisitFinished, None] = Signal("visit_finished")
"""Sent once the visit is done and audited; the consultation's encounter follows it."""


@dataclass(frozen=True, slots=True)
class QueueMoved:
    """A visit took a step at a location (checked in, called, started, finished, left),
    or a patient asked to be texted when their turn is near: who is near the front of
    the queue there may have changed."""

    location_id: uuid.UUID


queue_moved: Signal[QueueMoved, None] = Signal("queue_moved")
"""Sent after the step is recorded (notifications checks whose turn is near, later)."""
