"""Errors of the queue domain, each with the status it answers with."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError, Conflict, NotFound


class VisitNotFound(NotFound):
    title = "Visit not found"
    code = "visit-not-found"


class DisplayNotFound(NotFound):
    title = "Display not found"
    code = "display-not-found"


class AlreadyCheckedIn(Conflict):
    title = "Already checked in"
    code = "already-checked-in"


class CheckInRefused(Conflict):
    title = "This check-in is not possible"
    code = "check-in-refused"


class StepRefused(Conflict):
    """The visit is not in a state where this step makes sense (someone else moved it)."""

    title = "This step is not possible now"
    code = "step-refused"


class QueueEmpty(Conflict):
    title = "Nobody is waiting"
    code = "queue-empty"


class NotAProvider(ClinicError):
    status_code = 403
    title = "Not a provider"
    code = "not-a-provider"


class LinkNotFound(NotFound):
    """A display or patient link that does not exist, was revoked or has expired."""

    title = "Link not valid"
    code = "link-not-valid"


class RoomUnknown(Conflict):
    """A call names a room the location does not have (or the location has none)."""

    title = "No such room here"
    code = "room-unknown"
