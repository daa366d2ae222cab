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
class AppointmentChanged:
    """An appointment was booked, moved, cancelled, marked, or had a mark undone.

    ``action`` is the audit action's last word (``booked``, ``rescheduled``, ``cancelled``,
    ``noshow``, ``undone``, ``arrived``, ``fulfilled``, ``confirmed``)."""

    actor: Actor
    appointment_id: uuid.UUID
    action: str


appointment_changed: Signal[AppointmentChanged, None] = Signal("appointment_changed")
"""Sent after the change is flushed and audited (notifications plans or withdraws the
patient's messages in the same transaction)."""


@dataclass(frozen=True, slots=True)
class WaitlistOffered:
    """Freed time was offered to a waiting patient (the entry holds the offered slot)."""

    actor: Actor
    entry_id: uuid.UUID
    patient_id: uuid.UUID


waitlist_offered: Signal[WaitlistOffered, None] = Signal("waitlist_offered")
"""Sent once the offer is recorded and audited (notifications tells the patient)."""


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
