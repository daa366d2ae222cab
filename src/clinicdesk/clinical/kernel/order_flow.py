"""The steps of a lab or imaging order, as pure rules (no I/O).

    ordered -> collected -> resulted -> reviewed
       \\           \\
        cancelled (with a reason) - before any result is in

Imaging has nothing to collect, and a lab may send results for a sample taken
elsewhere, so results may be entered straight onto an ordered order. More results may
arrive after the first (a panel reported in parts): the order is "resulted" again until
every result is signed off, then "reviewed".
"""

from __future__ import annotations

from enum import StrEnum


class OrderKind(StrEnum):
    LAB = "lab"
    IMAGING = "imaging"

    @property
    def label(self) -> str:
        return {"lab": "Lab", "imaging": "Imaging"}[self.value]


class OrderPriority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"

    @property
    def label(self) -> str:
        return {"routine": "Routine", "urgent": "Urgent"}[self.value]


class OrderStatus(StrEnum):
    ORDERED = "ordered"
    COLLECTED = "collected"
    RESULTED = "resulted"
    REVIEWED = "reviewed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "ordered": "Ordered",
            "collected": "Collected",
            "resulted": "Results in",
            "reviewed": "Reviewed",
            "cancelled": "Cancelled",
        }[self.value]


class Step(StrEnum):
    COLLECT = "collect"
    ENTER_RESULTS = "enter results"
    CANCEL = "cancel"


_ALLOWED: dict[Step, frozenset[OrderStatus]] = {
    Step.COLLECT: frozenset({OrderStatus.ORDERED}),
    Step.ENTER_RESULTS: frozenset(
        {OrderStatus.ORDERED, OrderStatus.COLLECTED, OrderStatus.RESULTED, OrderStatus.REVIEWED}
    ),
    Step.CANCEL: frozenset({OrderStatus.ORDERED, OrderStatus.COLLECTED}),
}


def refusal(step: Step, status: OrderStatus | str) -> str | None:
    """Why ``step`` cannot be taken on an order in ``status``, in words for the person
    trying; None when it can."""
    status = OrderStatus(status)
    if status in _ALLOWED[step]:
        return None
    if status == OrderStatus.CANCELLED:
        return "This order was cancelled; place a new one if the test is still needed."
    if step == Step.COLLECT:
        return f"This order is already {status.label.lower()}; it cannot be collected again."
    if step == Step.CANCEL:
        return "Results are in for this order, so it cannot be cancelled."
    return f"An order that is {status.label.lower()} takes no results."


def status_after_review(results_unreviewed: int) -> OrderStatus:
    """An order with results is "reviewed" once none of them is left unsigned."""
    return OrderStatus.REVIEWED if results_unreviewed == 0 else OrderStatus.RESULTED
