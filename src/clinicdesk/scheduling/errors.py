"""Errors of the scheduling domain, each with the status it answers with."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError, Conflict, NotFound


class ProviderNotFound(NotFound):
    title = "Provider not found"
    code = "provider-not-found"


class AppointmentTypeNotFound(NotFound):
    title = "Appointment type not found"
    code = "appointment-type-not-found"


class AppointmentNotFound(NotFound):
    title = "Appointment not found"
    code = "appointment-not-found"


class SlotTaken(Conflict):
    """The provider already has an appointment overlapping this time."""

    title = "This time is already booked"
    code = "slot-taken"


class OutsideHours(Conflict):
    title = "Outside the provider's hours"
    code = "outside-hours"


class TimeInPast(Conflict):
    """A booking for a time that has passed, without saying it records a past visit."""

    title = "This time has passed"
    code = "time-in-past"


class CheckInTooEarly(Conflict):
    """A check-in long before the appointment, without the desk's confirmation."""

    title = "Too early to check in"
    code = "check-in-too-early"


class BookingRefused(ClinicError):
    status_code = 422
    title = "This booking is not possible"
    code = "booking-refused"


class TransitionRefused(Conflict):
    title = "This change is not possible now"
    code = "transition-refused"


class WaitlistEntryNotFound(NotFound):
    title = "Waitlist entry not found"
    code = "waitlist-entry-not-found"


class FeedNotAllowed(ClinicError):
    """Only the provider themself or an administrator manages a provider's feed link."""

    status_code = 403
    title = "Not your calendar feed"
    code = "feed-not-allowed"


class FeedNotFound(ClinicError):
    status_code = 404
    title = "Calendar feed not found"
    code = "feed-not-found"


class HoursExceptionNotFound(NotFound):
    title = "Time off or closure not found"
    code = "hours-exception-not-found"
