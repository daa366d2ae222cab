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


class DiagnosisNotFound(NotFound):
    title = "Diagnosis not found"
    code = "diagnosis-not-found"


class DiagnosisRefused(Conflict):
    """The diagnosis cannot change this way in its current state (entered in error,
    already on the problem list, a code the consultation already has)."""

    title = "This diagnosis cannot change this way"
    code = "diagnosis-refused"
