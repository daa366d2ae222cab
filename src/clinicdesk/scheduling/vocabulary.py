"""The fixed vocabularies of the scheduling domain."""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    """FHIR Appointment.status values that ClinicDesk uses."""

    PROPOSED = "proposed"
    PENDING = "pending"
    BOOKED = "booked"
    ARRIVED = "arrived"
    CHECKED_IN = "checked-in"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"


# Statuses whose appointment no longer holds its slot: the time is free again.
FREEING_STATUSES = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW})


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    REMOVED = "removed"


class PartOfDay(StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
