"""The fixed vocabularies of the front-desk queue."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class VisitStatus(StrEnum):
    """Where a checked-in patient is in the visit."""

    WAITING = "waiting"
    CALLED = "called"  # asked to come to a room; walking there
    IN_CONSULTATION = "in_consultation"
    DONE = "done"
    LEFT = "left"  # left without being seen


# Visits still in the building: they count in queues and positions.
OPEN_STATUSES = frozenset({VisitStatus.WAITING, VisitStatus.CALLED, VisitStatus.IN_CONSULTATION})


class VisitStep(StrEnum):
    """Every recorded step of a visit (the timeline; a step may repeat)."""

    CHECKED_IN = "checked_in"
    CALLED = "called"
    STARTED = "started"
    FINISHED = "finished"
    LEFT = "left"
    TRANSFERRED = "transferred"
    RETURNED = "returned"  # sent back to waiting
    PRIORITIZED = "prioritized"
    MOVED = "moved"


class Priority(IntEnum):
    """Who goes first among the waiting: higher first, then appointment time / arrival."""

    NORMAL = 0
    PRIORITY = 1  # elderly, pregnant, disabled, small child ...
    URGENT = 2


class ProviderState(StrEnum):
    AVAILABLE = "available"
    IN_CONSULTATION = "in_consultation"
    BREAK = "break"
    AWAY = "away"
    IN_TRANSIT = "in_transit"


# States in which the provider is not seeing patients until they are back (their ETA).
AWAY_STATES = frozenset({ProviderState.BREAK, ProviderState.AWAY, ProviderState.IN_TRANSIT})

STATE_LABELS: dict[str, str] = {
    ProviderState.AVAILABLE: "Available",
    ProviderState.IN_CONSULTATION: "In consultation",
    ProviderState.BREAK: "On break",
    ProviderState.AWAY: "Away",
    ProviderState.IN_TRANSIT: "In transit",
}

STATUS_LABELS: dict[str, str] = {
    VisitStatus.WAITING: "Waiting",
    VisitStatus.CALLED: "Called",
    VisitStatus.IN_CONSULTATION: "In consultation",
    VisitStatus.DONE: "Done",
    VisitStatus.LEFT: "Left without being seen",
}

PRIORITY_LABELS: dict[int, str] = {
    Priority.NORMAL: "Normal",
    Priority.PRIORITY: "Priority",
    Priority.URGENT: "Urgent",
}

# What pages show for these values (registered with ``core.labels`` when the app is built).
LABELS: dict[str, dict[str, str]] = {
    "visit_status": STATUS_LABELS,
    "visit_priority": {str(int(p)): text for p, text in PRIORITY_LABELS.items()},
    "provider_state": STATE_LABELS,
    "visit_step": {
        VisitStep.CHECKED_IN: "Checked in",
        VisitStep.CALLED: "Called",
        VisitStep.STARTED: "Consultation started",
        VisitStep.FINISHED: "Finished",
        VisitStep.LEFT: "Left",
        VisitStep.TRANSFERRED: "Transferred",
        VisitStep.RETURNED: "Sent back to waiting",
        VisitStep.PRIORITIZED: "Priority changed",
        VisitStep.MOVED: "Moved",
    },
}
