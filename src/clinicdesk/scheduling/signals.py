"""What scheduling announces to the domains that react to it (``core.signals``).

Handlers run in the booking's own transaction; see ``clinicdesk.reactions`` for who
listens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from clinicdesk.core.actor import Actor
from clinicdesk.core.signals import Signal


@dataclass(frozen=True, slots=True)
class AppointmentFreed:
    """A provider's time stopped being held: cancelled, a no-show, or moved away."""

    actor: Actor
    provider_id: uuid.UUID
    location_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


appointment_freed: Signal[AppointmentFreed, None] = Signal("appointment_freed")
"""Sent after the freeing change is flushed and audited (the waitlist offers the time)."""


@dataclass(frozen=True, slots=True)
class WaitlistOfferAccepted:
    """A waitlist offer was accepted and booked: the slot it offered is taken (the front
    desk hears of it)."""

    actor: Actor
    entry_id: uuid.UUID
    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    starts_at: datetime


waitlist_offer_accepted: Signal[WaitlistOfferAccepted, None] = Signal("waitlist_offer_accepted")
"""Sent in the accepting transaction, after the entry's audit entry."""
