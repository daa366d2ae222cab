"""Per-record rules of scheduling: who may manage a provider's calendar feed, when a
patient may still change their own appointment online, and the front desk's clock rules
(how far back a booking may start, how early a patient may check in, from when a missed
appointment is a no-show). The pages, the APIs and the use cases ask here, so a page
never offers what the use case would refuse.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission
from clinicdesk.scheduling.errors import BookingRefused
from clinicdesk.scheduling.models import Appointment, BookingPolicy, Provider
from clinicdesk.scheduling.vocabulary import HIGH_NO_SHOW_RISK, AppointmentStatus

# Appointments that still lie ahead as planned: they can be moved or cancelled.
OPEN_STATUSES = frozenset(
    {AppointmentStatus.BOOKED, AppointmentStatus.PENDING, AppointmentStatus.PROPOSED}
)

# Appointments the patient is still to come to (or is here for): listed as upcoming.
UPCOMING_STATUSES = OPEN_STATUSES | {AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN}


def is_upcoming(appointment: Appointment, *, now: datetime) -> bool:
    """Still ahead: it starts from ``now`` on and is neither attended, cancelled nor
    missed. A visit finished before its booked time (an early check-in) is past, though
    its start is still in the future; the chart and the portal both list by this rule."""
    return appointment.starts_at >= now and appointment.status in UPCOMING_STATUSES


# A booking may start this long before now: the slot under way (clicked on the calendar
# a few minutes into it) is still bookable; anything earlier is a past visit, booked only
# on purpose (``AppointmentCreate.record_past_visit``).
PAST_GRACE = timedelta(minutes=15)
# A booked patient may check in from this long before the start without confirming;
# earlier is almost always the wrong patient or the wrong day.
CHECK_IN_OPENS = timedelta(minutes=120)


def starts_in_past(start: datetime, *, now: datetime) -> bool:
    """A start earlier than the grace allows: booking it records a past visit."""
    return start < now - PAST_GRACE


def check_in_is_early(appointment: Appointment, *, now: datetime) -> bool:
    """Checking in now needs the desk's explicit confirmation (``early``)."""
    return appointment.starts_at - now > CHECK_IN_OPENS


def no_show_allowed(appointment: Appointment, *, now: datetime) -> bool:
    """A patient can miss an appointment only once it has begun; one who checked in and
    left unseen (``arrived``) is a no-show whatever the time."""
    if appointment.status == AppointmentStatus.ARRIVED:
        return True
    return appointment.status in OPEN_STATUSES and now >= appointment.starts_at


class PortalChange(StrEnum):
    """Whether a patient may change an appointment online, and if not, why."""

    ALLOWED = "allowed"
    TOO_LATE = "too_late"  # inside the cancellation window: the patient must call
    CLOSED = "closed"  # cancelled, attended, missed: nothing to change


def can_manage_feed(actor: Actor, provider: Provider) -> bool:
    """The provider's own account, or an administrator of the organization."""
    return actor.user_id == provider.user_id or actor.can(Permission.ADMIN_SETTINGS)


def portal_change(
    policy: BookingPolicy, appointment: Appointment, *, now: datetime
) -> PortalChange:
    if appointment.status not in OPEN_STATUSES:
        return PortalChange.CLOSED
    if appointment.starts_at < now + timedelta(hours=policy.cancel_window_hours):
        return PortalChange.TOO_LATE
    return PortalChange.ALLOWED


def check_portal_change(policy: BookingPolicy, appointment: Appointment, *, now: datetime) -> None:
    """Refuse, with the reason a patient can act on, a change the portal does not allow."""
    match portal_change(policy, appointment, now=now):
        case PortalChange.CLOSED:
            raise BookingRefused("This appointment can no longer be changed.")
        case PortalChange.TOO_LATE:
            raise BookingRefused(
                f"Appointments can be changed online until {policy.cancel_window_hours} hours "
                "before they start. Please call the clinic."
            )


def high_no_show_risk(appointment: Appointment) -> bool:
    """Marked on the calendar (and reminded once more): still ahead as planned, with a
    predicted no-show risk of at least ``HIGH_NO_SHOW_RISK``. An attended, cancelled or
    missed appointment keeps its figure but is no longer marked."""
    risk = appointment.no_show_risk
    return appointment.status in OPEN_STATUSES and risk is not None and risk >= HIGH_NO_SHOW_RISK
