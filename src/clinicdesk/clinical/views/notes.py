"""The consultation's "Note" section and the note's pages: the draft saved as it is
typed (htmx, on a pause and on leaving a field), a template applied, quick phrases
expanded as they are typed (``static/notes.js`` asks ``.../note/expand``), signing,
addenda and co-signature under the signed note, and the note's versions.

Every action that changes the draft posts the whole form, so what was typed last is
saved with it (signing saves and signs in one step): nothing typed is lost. A stale
save (another tab saved first) keeps the typed text in the fields and shows the saved
text beside it, with a button to keep one's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.errors import NoteStepRefused
from clinicdesk.clinical.models import ClinicalNote, NoteAddendum, NoteTemplate
from clinicdesk.clinical.schemas.notes import AddendumWrite, ExpandRequest, NoteDraft
from clinicdesk.clinical.service import encounters, note_templates, notes, phrases
from clinicdesk.clinical.views import consultation
from clinicdesk.clinical.views.consultation import page_url
from clinicdesk.clinical.views.sections import Desk, section
from clinicdesk.clinical.vocabulary import NoteAddendumKind, NoteKind
from clinicdesk.core.errors import ClinicError, NotFound, PreconditionFailed
from clinicdesk.core.forms import parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import is_htmx
from clinicdesk.identity import public as identity

router = APIRouter(include_in_schema=False)

PARTIAL = "clinical/_note.html"
FIELDS = ("title", "subjective", "objective", "assessment", "plan", "body")
STALE_MESSAGE = (
    "Not saved: this note was saved from another tab or window since you opened it. "
    "Your text is still in the fields; the saved version is below."
)
LABELS = {
    "subjective": "Subjective",
    "objective": "Objective",
    "assessment": "Assessment",
    "plan": "Plan",
    "body": "Note",
}


@dataclass(frozen=True, slots=True)
class NoteDesk:
    """What the section shows: the main note (or none yet), what was appended to it,
    the other notes of the consultation, and what the writer can use."""

    note: ClinicalNote | None
    addenda: Sequence[NoteAddendum]
    others: Sequence[notes.NoteView]
    can_edit: bool
    can_write: bool
    templates: Sequence[NoteTemplate] = ()
    triggers: Sequence[str] = ()
    names: dict[uuid.UUID, str] = field(default_factory=dict)
    typed: dict[str, str] | None = None  # what was typed, shown instead of the saved text

    @property
    def kind(self) -> str:
        return self.note.kind if self.note is not None else NoteKind.SOAP

    @property
    def version(self) -> str:
        return str(self.note.version) if self.note is not None else ""


async def note_desk(desk: Desk) -> NoteDesk:
    views = await notes.list_notes(desk.session, actor=desk.actor, encounter_id=desk.encounter.id)
    main = next((v for v in views if v.note.is_main), None)
    note = main.note if main is not None else None
    can_write = desk.writable and desk.actor.can(Permission.CLINICAL_WRITE)
    can_edit = can_write and (
        note is None or (not note.signed and note.author_id == desk.actor.user_id)
    )
    people: set[uuid.UUID] = set()
    for view in views:
        people |= {view.note.author_id, *(a.author_id for a in view.addenda)}
        people |= {u for u in (view.note.cosigner_required_id, view.note.cosigned_by_id) if u}
    templates: Sequence[NoteTemplate] = ()
    triggers: Sequence[str] = ()
    if can_edit:
        templates = await note_templates.templates_for(desk.session, desk.encounter)
        triggers = await phrases.known_triggers(desk.session, actor=desk.actor)
    return NoteDesk(
        note=note,
        addenda=main.addenda if main is not None else (),
        others=[v for v in views if not v.note.is_main],
        can_edit=can_edit,
        can_write=desk.actor.can(Permission.CLINICAL_WRITE),
        templates=templates,
        triggers=triggers,
        names=await identity.names_of(desk.session, people),
    )


@section("note", "Note", template=PARTIAL, order=30)
async def note_section(desk: Desk) -> dict[str, Any]:
    return {"note_desk": await note_desk(desk)}


def _draft(form: FormData) -> NoteDraft:
    values = {name: str(form.get(name) or "") for name in FIELDS}
    return parse_form(NoteDraft, values, labels={**LABELS, "title": "Title"})


def _version(form: FormData, name: str = "draft_version") -> int | None:
    value = str(form.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def _kind(form: FormData) -> NoteKind:
    return NoteKind.FREE if form.get("kind") == NoteKind.FREE else NoteKind.SOAP


async def _save(
    session: SessionDep, actor: Any, encounter_id: uuid.UUID, form: FormData
) -> ClinicalNote:
    """Save the form's draft: the version the page holds, or the one a "keep mine"
    button names (the person chose to save over the other version)."""
    expected = _version(form, "overwrite")
    if expected is None:
        expected = _version(form)
    return await notes.save_main_draft(
        session,
        actor=actor,
        encounter_id=encounter_id,
        data=_draft(form),
        kind=_kind(form),
        expected_version=expected,
    )


@router.post("/encounters/{encounter_id}/note", response_class=HTMLResponse)
async def autosave(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """The draft saved as typed (htmx): answers with the save status and the version
    to send next; a stale save answers with the saved text beside the typed one."""
    form = await request.form()
    context: dict[str, Any] = {"encounter_id": encounter_id, "note_error": None}
    failure: ClinicError | None = None
    try:
        async with all_or_nothing(session):
            note = await _save(session, actor, encounter_id, form)
        context["status_note"] = note
    except NotFound:
        raise
    except PreconditionFailed as stale:
        failure = stale
        current = await notes.main_note(session, encounter_id)
        context.update(
            status_note=current,
            note_stale=current,
            note_posted_version=_version(form),
            note_error=STALE_MESSAGE,
        )
    except ClinicError as refused:
        failure = refused
        current = await notes.main_note(session, encounter_id)
        context.update(
            status_note=current, note_posted_version=_version(form), note_error=refused.detail
        )
    if not is_htmx(request):
        # Not from the page's script (no JavaScript, or an address opened by hand).
        if failure is not None:
            return await _page_keeping_typed(request, session, actor, encounter_id, form, failure)
        return await _then_back(request, encounter_id, "Note saved.", None)
    return render(request, PARTIAL, context, block="status")


async def _page_keeping_typed(
    request: Request,
    session: SessionDep,
    actor: Any,
    encounter_id: uuid.UUID,
    form: FormData,
    error: ClinicError,
) -> Response:
    """A save that was refused inside a whole-page post (sign, template, switch): the
    page again with what was typed still in the fields, never a redirect that drops it;
    a stale save shows the saved text beside it."""
    desk = await consultation._desk(request, session, actor, encounter_id)
    context = await consultation.page_context(desk)
    typed = {name: str(form.get(name) or "") for name in FIELDS if name in form}
    stale = isinstance(error, PreconditionFailed)
    for shown in context["sections"]:
        if shown["section"].name == "note":
            shown["note_desk"] = replace(shown["note_desk"], typed=typed)
    context.update(
        note_error=STALE_MESSAGE if stale else error.detail,
        note_stale=await notes.main_note(session, encounter_id) if stale else None,
        note_posted_version=_version(form),
    )
    return render(request, consultation.PAGE, context, status_code=error.status_code)


async def _then_back(
    request: Request, encounter_id: uuid.UUID, done: str, error: ClinicError | None
) -> Response:
    response = redirect(page_url(encounter_id) + "#section-note")
    if error is not None:
        flash(request, response, error.detail, "error")
    else:
        flash(request, response, done)
    return response


@router.post("/encounters/{encounter_id}/note/sign", response_class=HTMLResponse)
async def save_and_sign(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """Save what is in the fields and sign it, in one step."""
    form = await request.form()
    try:
        async with all_or_nothing(session):
            note = await _save(session, actor, encounter_id, form)
            await notes.sign_note(
                session, actor=actor, note_id=note.id, expected_version=note.version
            )
    except NotFound:
        raise
    except ClinicError as error:
        return await _page_keeping_typed(request, session, actor, encounter_id, form, error)
    return await _then_back(request, encounter_id, "Note signed.", None)


@router.post("/encounters/{encounter_id}/note/template", response_class=HTMLResponse)
async def save_and_apply_template(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """Save what is in the fields, then fill the empty ones from the chosen template."""
    form = await request.form()
    try:
        template_id = uuid.UUID(str(form.get("template_id") or ""))
    except ValueError:
        return await _then_back(request, encounter_id, "", NoteStepRefused("Choose a template."))
    try:
        async with all_or_nothing(session):
            note = await _save(session, actor, encounter_id, form)
            await notes.apply_template(
                session,
                actor=actor,
                note_id=note.id,
                template_id=template_id,
                expected_version=note.version,
            )
    except NotFound:
        raise
    except ClinicError as error:
        return await _page_keeping_typed(request, session, actor, encounter_id, form, error)
    return await _then_back(request, encounter_id, "Template applied to the empty fields.", None)


@router.post("/encounters/{encounter_id}/note/kind", response_class=HTMLResponse)
async def save_and_switch(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    """SOAP ↔ free text: saves first; the other layout's text is kept."""
    form = await request.form()
    target = NoteKind.FREE if form.get("switch") == NoteKind.FREE else NoteKind.SOAP
    try:
        async with all_or_nothing(session):
            note = await _save(session, actor, encounter_id, form)
            await notes.change_kind(
                session, actor=actor, note_id=note.id, kind=target, expected_version=note.version
            )
    except NotFound:
        raise
    except ClinicError as error:
        return await _page_keeping_typed(request, session, actor, encounter_id, form, error)
    words = "free text" if target == NoteKind.FREE else "SOAP"
    return await _then_back(request, encounter_id, f"The note is now {words}.", None)


@router.post("/encounters/{encounter_id}/note/expand")
async def expand(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> JSONResponse:
    """``static/notes.js`` sends the trigger just typed; the answer is its text (the
    same text when nothing is known by that name)."""
    encounter = await encounters.get_encounter(session, encounter_id, actor=actor)
    form = await request.form()
    data = parse_form(ExpandRequest, {"text": str(form.get("text") or "")})
    text = await phrases.expand(
        session, actor=actor, patient_id=encounter.patient_id, text=data.text or ""
    )
    return JSONResponse({"text": text})


@router.post("/notes/{note_id}/addenda", response_class=HTMLResponse)
async def add_addendum(
    note_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalWrite
) -> Response:
    form = await request.form()
    view = await notes.get_note(session, note_id, actor=actor)
    kind = NoteAddendumKind.AMENDMENT if form.get("kind") == "amendment" else "addendum"
    try:
        async with all_or_nothing(session):
            data = parse_form(
                AddendumWrite,
                {
                    "kind": kind,
                    "text": str(form.get("text") or "").strip(),
                    "reason": str(form.get("reason") or "").strip(),
                },
                labels={"text": "Text", "reason": "Reason"},
                hint="Write the text (and, for an amendment, the reason).",
            )
            await notes.add_addendum(session, actor=actor, note_id=note_id, data=data)
    except ClinicError as error:
        # The page again with the addendum's text still in its form.
        desk = await consultation._desk(request, session, actor, view.note.encounter_id)
        context = await consultation.page_context(desk)
        context["addendum_failed"] = {
            "message": error.detail,
            "kind": kind,
            "text": str(form.get("text") or ""),
            "reason": str(form.get("reason") or ""),
        }
        return render(request, consultation.PAGE, context, status_code=error.status_code)
    done = "Amendment signed and added." if kind == "amendment" else "Addendum signed and added."
    return await _then_back(request, view.note.encounter_id, done, None)


@router.post("/notes/{note_id}/cosign", response_class=HTMLResponse)
async def cosign(
    note_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ClinicalWrite,
    version: FormVersion,
) -> Response:
    view = await notes.get_note(session, note_id, actor=actor)
    try:
        async with all_or_nothing(session):
            await notes.cosign_note(session, actor=actor, note_id=note_id, expected_version=version)
    except ClinicError as error:
        return await _then_back(request, view.note.encounter_id, "", error)
    return await _then_back(request, view.note.encounter_id, "Note co-signed.", None)


@router.get("/notes/{note_id}/history", response_class=HTMLResponse)
async def history_page(
    note_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalRead
) -> HTMLResponse:
    """Every version of the note, from the audit trail, newest first."""
    versions = await notes.note_history(session, actor=actor, note_id=note_id)
    view = await notes.get_note(session, note_id, actor=actor)
    return render(
        request,
        "clinical/note_history.html",
        {
            "note": view.note,
            "versions": list(reversed(versions)),
            "labels": LABELS,
            "words": notes.ACTION_WORDS,
        },
    )
