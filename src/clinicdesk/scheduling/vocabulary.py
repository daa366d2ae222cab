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


# What pages show for these values (registered with ``core.labels`` when the app is built).
LABELS: dict[str, dict[str, str]] = {
    "appointment_status": {
        AppointmentStatus.PROPOSED: "Proposed",
        AppointmentStatus.PENDING: "Pending",
        AppointmentStatus.BOOKED: "Booked",
        AppointmentStatus.ARRIVED: "Arrived",
        AppointmentStatus.CHECKED_IN: "Checked in",
        AppointmentStatus.FULFILLED: "Seen",
        AppointmentStatus.CANCELLED: "Cancelled",
        AppointmentStatus.NOSHOW: "No-show",
    },
    "waitlist_status": {
        WaitlistStatus.WAITING: "Waiting",
        WaitlistStatus.OFFERED: "Offered",
        WaitlistStatus.BOOKED: "Booked",
        WaitlistStatus.REMOVED: "Removed",
    },
    "part_of_day": {p: p.value.capitalize() for p in PartOfDay},
}
