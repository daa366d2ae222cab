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


class DrugNotFound(NotFound):
    title = "Drug not found"
    code = "drug-not-found"


class PrescriptionNotFound(NotFound):
    title = "Prescription not found"
    code = "prescription-not-found"


class PrescriptionStepRefused(Conflict):
    """The prescription is not in a state where this step makes sense."""

    title = "This step is not possible now"
    code = "prescription-step-refused"


class SafetyCheckRequired(Conflict):
    """The safety checks found something: prescribing again with an ``override_reason``
    goes ahead (the reason is audited with the findings). Carries ``findings``."""

    title = "Safety checks need your decision"
    code = "safety-check"
