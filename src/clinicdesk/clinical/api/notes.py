"""JSON API of notes: an encounter's notes, a draft saved with If-Match, signing,
addenda and amendments, co-signing, applying a template, a note's versions, and the
quick-phrase expansion; the note templates and quick phrases themselves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.models import ClinicalNote, NoteAddendum
from clinicdesk.clinical.schemas.notes import (
    AddendumRead,
    AddendumWrite,
    ExpandAnswer,
    ExpandRequest,
    NoteCreate,
    NoteDraft,
    NoteList,
    NoteRead,
    NoteTemplateApply,
    NoteTemplateList,
    NoteTemplateRead,
    NoteTemplateWrite,
    QuickPhraseList,
    QuickPhraseRead,
    QuickPhraseWrite,
)
from clinicdesk.clinical.service import note_templates, notes, phrases
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["notes"])


def _read(note: ClinicalNote, addenda: list[NoteAddendum] | None = None) -> NoteRead:
    read = NoteRead.model_validate(note)
    read.addenda = [AddendumRead.model_validate(a) for a in addenda or []]
    return read


def _answer(
    response: Response, note: ClinicalNote, addenda: list[NoteAddendum] | None = None
) -> NoteRead:
    with_etag(response, note.version)
    return _read(note, addenda)


@router.get("/encounters/{encounter_id}/notes", response_model=NoteList)
async def list_notes(encounter_id: uuid.UUID, session: SessionDep, actor: ClinicalRead) -> NoteList:
    """The consultation's notes, its main note first, each with its addenda."""
    views = await notes.list_notes(session, actor=actor, encounter_id=encounter_id)
    return NoteList(items=[_read(v.note, list(v.addenda)) for v in views])


@router.post(
    "/encounters/{encounter_id}/notes",
    response_model=NoteRead,
    status_code=201,
    summary="Start a note (send Idempotency-Key to retry safely)",
)
async def create_note(
    encounter_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: NoteCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A draft by the signed-in clinician. A second main note is refused (409, with the
    first one's ``note_id``); ``main: false`` adds a free note beside it."""

    async def create() -> NoteRead:
        note = await notes.create_note(session, actor=actor, encounter_id=encounter_id, data=body)
        return _read(note)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/encounters/{encounter_id}/notes",
        body=body,
        create=create,
    )


@router.get("/notes/{note_id}", response_model=NoteRead)
async def read_note(
    note_id: uuid.UUID, response: Response, session: SessionDep, actor: ClinicalRead
) -> NoteRead:
    view = await notes.get_note(session, note_id, actor=actor)
    return _answer(response, view.note, list(view.addenda))


@router.patch("/notes/{note_id}", response_model=NoteRead)
async def save_draft(
    note_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: NoteDraft,
    if_match: IfMatch,
) -> NoteRead:
    """Save the draft (every field; an absent one is emptied). The same text again is
    a no-op; other text on an older ETag is 412; a signed note is 409 ``note-signed``
    (add an addendum instead)."""
    note = await notes.save_draft(
        session, actor=actor, note_id=note_id, data=body, expected_version=if_match
    )
    return _answer(response, note)


@router.post("/notes/{note_id}/sign", response_model=NoteRead)
async def sign_note(
    note_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    if_match: IfMatch,
) -> NoteRead:
    """Sign the draft (its author only): the text is locked from now on."""
    note = await notes.sign_note(session, actor=actor, note_id=note_id, expected_version=if_match)
    return _answer(response, note)


@router.post("/notes/{note_id}/cosign", response_model=NoteRead)
async def cosign_note(
    note_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    if_match: IfMatch,
) -> NoteRead:
    """By the co-signer the author named, once the note is signed."""
    note = await notes.cosign_note(session, actor=actor, note_id=note_id, expected_version=if_match)
    return _answer(response, note)


@router.post(
    "/notes/{note_id}/addenda",
    response_model=AddendumRead,
    status_code=201,
    summary="Append an addendum or amendment to a signed note (Idempotency-Key welcome)",
)
async def add_addendum(
    note_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: AddendumWrite,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> AddendumRead:
        addendum = await notes.add_addendum(session, actor=actor, note_id=note_id, data=body)
        return AddendumRead.model_validate(addendum)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/notes/{note_id}/addenda",
        body=body,
        create=create,
    )


@router.post("/notes/{note_id}/template", response_model=NoteRead)
async def apply_template(
    note_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: NoteTemplateApply,
    if_match: IfMatch,
) -> NoteRead:
    """Fill the draft's empty fields from the template."""
    note = await notes.apply_template(
        session,
        actor=actor,
        note_id=note_id,
        template_id=body.template_id,
        expected_version=if_match,
    )
    return _answer(response, note)


class NoteVersionRead(BaseModel):
    number: int
    at: datetime
    action: str
    who: str
    status: str
    texts: dict[str, Any]


@router.get("/notes/{note_id}/history", response_model=list[NoteVersionRead])
async def note_history(
    note_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
) -> list[NoteVersionRead]:
    """Every version of the note, oldest first, from the audit trail."""
    versions = await notes.note_history(session, actor=actor, note_id=note_id)
    return [
        NoteVersionRead(
            number=v.number, at=v.at, action=v.action, who=v.who, status=v.status, texts=v.texts
        )
        for v in versions
    ]


@router.post("/notes/{note_id}/expand", response_model=ExpandAnswer)
async def expand_phrases(
    note_id: uuid.UUID, session: SessionDep, actor: ClinicalWrite, body: ExpandRequest
) -> ExpandAnswer:
    """``text`` with its ``.triggers`` expanded for this note's patient."""
    view = await notes.get_note(session, note_id, actor=actor)
    patient_id = await notes.patient_of(session, view.note)
    text = await phrases.expand(session, actor=actor, patient_id=patient_id, text=body.text or "")
    return ExpandAnswer(text=text)


# --- note templates ---------------------------------------------------------------------------


@router.get("/note-templates", response_model=NoteTemplateList)
async def list_templates(
    session: SessionDep, actor: ClinicalRead, include_inactive: bool = False
) -> NoteTemplateList:
    found = await note_templates.list_templates(session, active_only=not include_inactive)
    return NoteTemplateList(items=[NoteTemplateRead.model_validate(t) for t in found])


@router.post("/note-templates", response_model=NoteTemplateRead, status_code=201)
async def create_template(
    session: SessionDep, actor: ClinicalWrite, body: NoteTemplateWrite, response: Response
) -> NoteTemplateRead:
    template = await note_templates.create_template(session, actor=actor, data=body)
    with_etag(response, template.version)
    return NoteTemplateRead.model_validate(template)


@router.get("/note-templates/{note_template_id}", response_model=NoteTemplateRead)
async def read_template(
    note_template_id: uuid.UUID, session: SessionDep, actor: ClinicalRead, response: Response
) -> NoteTemplateRead:
    template = await note_templates.get_template(session, note_template_id)
    with_etag(response, template.version)
    return NoteTemplateRead.model_validate(template)


@router.patch("/note-templates/{note_template_id}", response_model=NoteTemplateRead)
async def update_template(
    note_template_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: NoteTemplateWrite,
    if_match: IfMatch,
    response: Response,
) -> NoteTemplateRead:
    """Replace the template (``is_active: false`` retires it)."""
    template = await note_templates.update_template(
        session, actor=actor, template_id=note_template_id, data=body, expected_version=if_match
    )
    with_etag(response, template.version)
    return NoteTemplateRead.model_validate(template)


# --- quick phrases ----------------------------------------------------------------------------


@router.get("/quick-phrases", response_model=QuickPhraseList)
async def list_phrases(session: SessionDep, actor: ClinicalWrite) -> QuickPhraseList:
    """One's own phrases and the organization's (``owner_id`` null)."""
    found = await phrases.list_phrases(session, actor=actor)
    return QuickPhraseList(items=[QuickPhraseRead.model_validate(p) for p in found])


@router.post("/quick-phrases", response_model=QuickPhraseRead, status_code=201)
async def create_phrase(
    session: SessionDep, actor: ClinicalWrite, body: QuickPhraseWrite, response: Response
) -> QuickPhraseRead:
    phrase = await phrases.create_phrase(session, actor=actor, data=body)
    with_etag(response, phrase.version)
    return QuickPhraseRead.model_validate(phrase)


@router.patch("/quick-phrases/{phrase_id}", response_model=QuickPhraseRead)
async def update_phrase(
    phrase_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: QuickPhraseWrite,
    if_match: IfMatch,
    response: Response,
) -> QuickPhraseRead:
    phrase = await phrases.update_phrase(
        session, actor=actor, phrase_id=phrase_id, data=body, expected_version=if_match
    )
    with_etag(response, phrase.version)
    return QuickPhraseRead.model_validate(phrase)


@router.delete("/quick-phrases/{phrase_id}", status_code=204)
async def delete_phrase(
    phrase_id: uuid.UUID, session: SessionDep, actor: ClinicalWrite, if_match: IfMatch
) -> Response:
    await phrases.delete_phrase(
        session, actor=actor, phrase_id=phrase_id, expected_version=if_match
    )
    return Response(status_code=204)
