"""Errors of the clinical domain, each with the status it answers with."""

from __future__ import annotations

from clinicdesk.core.errors import Conflict, NotFound


class EncounterNotFound(NotFound):
    title = "Encounter not found"
    code = "encounter-not-found"


class EncounterClosed(Conflict):
    """The encounter is finished, cancelled or entered in error: nothing more is
    written into it (an addendum to a signed note is the way to add to it)."""

    title = "This consultation is closed"
    code = "encounter-closed"


class EncounterStepRefused(Conflict):
    """The encounter is not in a state where this step makes sense."""

    title = "This step is not possible now"
    code = "encounter-step-refused"


class OrderNotFound(NotFound):
    title = "Order not found"
    code = "order-not-found"


class ResultNotFound(NotFound):
    title = "Result not found"
    code = "result-not-found"


class CatalogueItemNotFound(NotFound):
    title = "Test not found"
    code = "test-not-found"


class OrderStepRefused(Conflict):
    """The order is not in a state where this step makes sense (results on a cancelled
    order, cancelling one whose results are in)."""

    title = "This step is not possible for this order"
    code = "order-step-refused"


class CatalogueNameTaken(Conflict):
    title = "A test with this name exists"
    code = "test-name-taken"
