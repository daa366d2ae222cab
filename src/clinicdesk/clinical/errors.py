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
