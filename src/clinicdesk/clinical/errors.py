"""Errors of the clinical domain, each with the status it answers with."""

from __future__ import annotations

from collections.abc import Mapping

from clinicdesk.core.errors import Conflict, NotFound
from clinicdesk.core.forms import FormInvalid


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


class ObservationNotFound(NotFound):
    title = "Observation not found"
    code = "observation-not-found"


class ObservationStepRefused(Conflict):
    """The observation is not in a state where this step makes sense (already marked
    entered in error)."""

    title = "This step is not possible now"
    code = "observation-step-refused"


class VitalsRefused(FormInvalid):
    """A value no patient can have, or a set that does not hold together (half a blood
    pressure): 422 with a message per field, each naming the valid range."""

    title = "Some vital signs are not possible"
    code = "vitals-refused"

    def __init__(self, fields: Mapping[str, str]) -> None:
        first = next(iter(fields.values()))
        super().__init__(
            fields,
            first if len(fields) == 1 else "Check these values: " + " ".join(fields.values()),
            first=first,
        )


class NoteNotFound(NotFound):
    title = "Note not found"
    code = "note-not-found"


class NoteLocked(Conflict):
    """The note is signed: it is never changed in place; an addendum or an amendment is
    appended instead."""

    title = "This note is signed"
    code = "note-signed"


class NoteStepRefused(Conflict):
    """The note is not in a state where this step makes sense (sign an empty note,
    co-sign without being the named co-signer, a second main note ...)."""

    title = "This step is not possible for this note"
    code = "note-step-refused"


class NoteTemplateNotFound(NotFound):
    title = "Note template not found"
    code = "note-template-not-found"


class QuickPhraseNotFound(NotFound):
    title = "Quick phrase not found"
    code = "quick-phrase-not-found"


class QuickPhraseTaken(Conflict):
    title = "This trigger is taken"
    code = "quick-phrase-taken"


class DiagnosisNotFound(NotFound):
    title = "Diagnosis not found"
    code = "diagnosis-not-found"


class DiagnosisRefused(Conflict):
    """The diagnosis cannot change this way in its current state (entered in error,
    already on the problem list, a code the consultation already has)."""

    title = "This diagnosis cannot change this way"
    code = "diagnosis-refused"


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


class RecallNotFound(NotFound):
    title = "Recall not found"
    code = "recall-not-found"


class RecallStepRefused(Conflict):
    """The recall is booked or cancelled already."""

    title = "This recall is not open"
    code = "recall-step-refused"
