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


# A booked appointment whose predicted no-show risk (notifications' risk model, written to
# ``appointments.no_show_risk``) is at least this is marked on the calendar and gets an
# extra reminder. A fixed figure, not a multiple of the clinic's base rate, so that the
# calendar needs nothing but the appointment to show the mark and "high" means the same
# in every clinic: at 0.30 roughly one such patient in three does not come. Outpatient
# no-show rates run 5-20 %, so this is 1.5-6 times the usual rate; in the simulated
# history of benchmarks/no_show_model.py (base rate 16 %) it marks about one
# appointment in nine, of which over 40 % are no-shows (benchmarks/README.md), few enough
# that the front desk still notices the mark, and an extra reminder to each costs little
# next to an empty slot.
HIGH_NO_SHOW_RISK = 0.30
