"""Which steps a visit can take from where it is: the one table the flow use cases
enforce and the desk and doctor pages read to offer only the buttons that will work."""

from __future__ import annotations

from enum import StrEnum

from clinicdesk.queue.vocabulary import VisitStatus

W, C, IC = VisitStatus.WAITING, VisitStatus.CALLED, VisitStatus.IN_CONSULTATION


class VisitAction(StrEnum):
    CALL = "call"
    START = "start"
    FINISH = "finish"
    LEAVE = "leave"
    RETURN = "return"  # back to waiting: did not come, or sent out to wait for a result
    TRANSFER = "transfer"
    PRIORITY = "priority"
    MOVE = "move"  # up or down among the waiting


ALLOWED_FROM: dict[VisitAction, frozenset[VisitStatus]] = {
    VisitAction.CALL: frozenset({W, C}),
    VisitAction.START: frozenset({W, C}),
    VisitAction.FINISH: frozenset({IC}),
    VisitAction.LEAVE: frozenset({W, C}),
    VisitAction.RETURN: frozenset({C, IC}),
    VisitAction.TRANSFER: frozenset({W, C, IC}),
    VisitAction.PRIORITY: frozenset({W, C}),
    VisitAction.MOVE: frozenset({W}),
}


def actions_for(status: str) -> frozenset[VisitAction]:
    """What can be done with a visit in ``status`` (nothing once it is done or left)."""
    return frozenset(action for action, From in ALLOWED_FROM.items() if status in From)
