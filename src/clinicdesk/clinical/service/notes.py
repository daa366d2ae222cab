"""Clinical notes: write a draft as it is typed, sign it (which locks it), append
addenda and amendments, co-sign a trainee's note, and read a note's versions.

Rules:
* A signed note is never changed in place: every change to it is refused (``NoteLocked``,
  409) and says what to do instead (an addendum, or an amendment with its reason). The
  model refuses it again underneath (``models.notes``).
* A draft is its author's: only they change or sign it. Saving is an idempotent upsert
  with the version check: the same text saved again is a no-op whatever the version (a
  retried autosave), different text based on an older version is refused (412) so two
  tabs never overwrite each other silently.
* Every save, signature, co-signature and addendum is one audit entry with its changes,
  in the same transaction: the trail holds every version (``note_history``).
* Drafts are written only into an open encounter; addenda go on after it is closed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import (
    EncounterNotFound,
    NoteLocked,
    NoteNotFound,
    NoteStepRefused,
)
from clinicdesk.clinical.models import ClinicalNote, Encounter, NoteAddendum
from clinicdesk.clinical.models.notes import NOTE_TEXT_FIELDS
from clinicdesk.clinical.schemas.notes import AddendumWrite, NoteCreate, NoteDraft
from clinicdesk.clinical.service.encounters import get_open_encounter
from clinicdesk.clinical.service.note_templates import get_template
from clinicdesk.clinical.vocabulary import NoteAddendumKind, NoteKind, NoteStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

RESOURCE = "note"
DRAFT_FIELDS = ("title", *NOTE_TEXT_FIELDS)
LOCKED_MESSAGE = (
    "This note is signed and cannot be changed. Add an addendum to it, or an amendment "
    "saying what was wrong."
)
# The audit actions that carry a version of the note's text.
VERSION_ACTIONS = ("note.created", "note.draft_saved", "note.template_applied", "note.signed")


@dataclass(frozen=True, slots=True)
class NoteView:
    """A note with what was appended to it, oldest first."""

    note: ClinicalNote
    addenda: Sequence[NoteAddendum] = field(default_factory=tuple)


async def _find(session: AsyncSession, note_id: uuid.UUID) -> ClinicalNote:
    note = await session.get(ClinicalNote, note_id)
    if note is None:
        raise NoteNotFound("No note with this id.")
    return note


async def _encounter(session: AsyncSession, note: ClinicalNote) -> Encounter:
    return await session.get_one(Encounter, note.encounter_id)


async def _addenda(session: AsyncSession, note_ids: Sequence[uuid.UUID]) -> list[NoteAddendum]:
    if not note_ids:
        return []
    rows = await session.scalars(
        select(NoteAddendum)
        .where(NoteAddendum.note_id.in_(note_ids))
        .order_by(NoteAddendum.signed_at, NoteAddendum.id)
    )
    return list(rows)


async def _record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    note: ClinicalNote,
    patient_id: uuid.UUID,
    before: dict[str, Any] | None,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        action=action,
        actor=actor,
        resource_type=RESOURCE,
        resource_id=note.id,
        patient_id=patient_id,
        changes=audit.changes(before, audit.snapshot(note)),
        details={"version": note.version, **(details or {})},
    )


# --- reading ------------------------------------------------------------------------------


async def list_notes(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID
) -> list[NoteView]:
    """The encounter's notes, the main note first, each with its addenda (a read of the
    patient's record, recorded)."""
    encounter = await session.get(Encounter, encounter_id)
    if encounter is None:
        raise EncounterNotFound("No consultation with this id.")
    await patients.get_patient(session, encounter.patient_id, actor=actor)
    notes = list(
        await session.scalars(
            select(ClinicalNote)
            .where(ClinicalNote.encounter_id == encounter.id)
            .order_by(ClinicalNote.is_main.desc(), ClinicalNote.created_at, ClinicalNote.id)
        )
    )
    addenda = await _addenda(session, [n.id for n in notes])
    await audit.record_read(
        session,
        actor=actor,
        patient_id=encounter.patient_id,
        view="notes",
        resource_type="encounter",
        resource_id=encounter.id,
    )
    return [NoteView(n, [a for a in addenda if a.note_id == n.id]) for n in notes]


async def main_note(session: AsyncSession, encounter_id: uuid.UUID) -> ClinicalNote | None:
    """The consultation's own note, if one was started (no access check: for callers
    that already read the encounter)."""
    return await session.scalar(
        select(ClinicalNote).where(
            ClinicalNote.encounter_id == encounter_id, ClinicalNote.is_main.is_(True)
        )
    )


async def addenda_of(session: AsyncSession, note_id: uuid.UUID) -> list[NoteAddendum]:
    return await _addenda(session, [note_id])


async def get_note(session: AsyncSession, note_id: uuid.UUID, *, actor: Actor) -> NoteView:
    """One note with its addenda, for ``actor`` to read (recorded)."""
    note = await _find(session, note_id)
    encounter = await _encounter(session, note)
    await patients.get_patient(session, encounter.patient_id, actor=actor)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=encounter.patient_id,
        view="note",
        resource_type=RESOURCE,
        resource_id=note.id,
    )
    return NoteView(note, await _addenda(session, [note.id]))


async def unsigned_notes(session: AsyncSession, encounter_id: uuid.UUID) -> int:
    """How many of the encounter's notes are still drafts (finishing waits for them)."""
    rows = await session.scalars(
        select(ClinicalNote.id).where(
            ClinicalNote.encounter_id == encounter_id, ClinicalNote.status == NoteStatus.DRAFT
        )
    )
    return len(list(rows))


# --- drafts ---------------------------------------------------------------------------------


def _texts(data: NoteDraft | NoteCreate) -> dict[str, str | None]:
    return {name: getattr(data, name) for name in DRAFT_FIELDS}


async def _check_cosigner(session: AsyncSession, actor: Actor, cosigner_id: uuid.UUID) -> None:
    if cosigner_id == actor.user_id:
        raise NoteStepRefused("A co-signer is someone else: your supervisor.")
    found = await identity.names_of(session, {cosigner_id})
    if cosigner_id not in found:
        raise NoteStepRefused("The co-signer is not a user of this organization.")


async def create_note(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID, data: NoteCreate
) -> ClinicalNote:
    """A new draft by ``actor`` in an open encounter. One main note per encounter: a
    second is refused with the id of the first (write into it, or add a free note)."""
    encounter = await get_open_encounter(session, encounter_id, actor=actor)
    if data.main:
        existing = await main_note(session, encounter.id)
        if existing is not None:
            raise NoteStepRefused(
                "This consultation already has its note: write into it, or add a free note.",
                note_id=str(existing.id),
            )
    if data.cosigner_id is not None:
        await _check_cosigner(session, actor, data.cosigner_id)
    note = ClinicalNote(
        encounter_id=encounter.id,
        is_main=data.main,
        kind=data.kind,
        status=NoteStatus.DRAFT,
        author_id=actor.user_id,
        cosigner_required_id=data.cosigner_id,
        **_texts(data),
    )
    try:
        async with session.begin_nested():
            session.add(note)
            await session.flush()
    except IntegrityError:
        # Two tabs started the main note at the same moment: the other one won.
        raise NoteStepRefused(
            "This consultation's note was just started elsewhere: reload to write into it."
        ) from None
    await _record(
        session,
        actor=actor,
        action="note.created",
        note=note,
        patient_id=encounter.patient_id,
        before=None,
    )
    return note


async def _draft_to_change(
    session: AsyncSession, *, actor: Actor, note_id: uuid.UUID
) -> tuple[ClinicalNote, Encounter]:
    """The note as a draft its author may change, in an open encounter; a signed note
    is refused first, whatever else is wrong."""
    note = await _find(session, note_id)
    if note.signed:
        raise NoteLocked(LOCKED_MESSAGE, note_id=str(note.id))
    encounter = await get_open_encounter(session, note.encounter_id, actor=actor)
    if note.author_id != actor.user_id:
        raise NoteStepRefused(
            "This draft is another clinician's: only its author changes or signs it. "
            "Add a note of your own."
        )
    return note, encounter


async def save_draft(
    session: AsyncSession,
    *,
    actor: Actor,
    note_id: uuid.UUID,
    data: NoteDraft,
    expected_version: int | None,
) -> ClinicalNote:
    """Save the draft as typed. The same text again changes nothing (a retried save);
    other text from an older version is refused (412, with the current version) so the
    person sees both and chooses."""
    note, encounter = await _draft_to_change(session, actor=actor, note_id=note_id)
    texts = _texts(data)
    if all(getattr(note, name) == value for name, value in texts.items()):
        return note
    check_version(note, expected_version)
    before = audit.snapshot(note)
    for name, value in texts.items():
        setattr(note, name, value)
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="note.draft_saved",
        note=note,
        patient_id=encounter.patient_id,
        before=before,
    )
    return note


async def save_main_draft(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    data: NoteDraft,
    kind: NoteKind,
    expected_version: int | None,
) -> ClinicalNote:
    """The consultation page's autosave: start the main note on the first save, save
    it after. A page opened before the note existed sends no version: if the note was
    started since (another tab), its save is stale unless the text is the same."""
    note = await main_note(session, encounter_id)
    if note is None:
        return await create_note(
            session,
            actor=actor,
            encounter_id=encounter_id,
            data=NoteCreate.model_validate({"kind": kind, "main": True, **_texts(data)}),
        )
    return await save_draft(
        session,
        actor=actor,
        note_id=note.id,
        data=data,
        expected_version=expected_version if expected_version is not None else 0,
    )


async def change_kind(
    session: AsyncSession,
    *,
    actor: Actor,
    note_id: uuid.UUID,
    kind: NoteKind,
    expected_version: int | None,
) -> ClinicalNote:
    """SOAP ↔ free text, while a draft (the text of the other layout is kept)."""
    note, encounter = await _draft_to_change(session, actor=actor, note_id=note_id)
    check_version(note, expected_version)
    if note.kind == kind:
        return note
    before = audit.snapshot(note)
    note.kind = kind
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="note.draft_saved",
        note=note,
        patient_id=encounter.patient_id,
        before=before,
    )
    return note


async def apply_template(
    session: AsyncSession,
    *,
    actor: Actor,
    note_id: uuid.UUID,
    template_id: uuid.UUID,
    expected_version: int | None,
) -> ClinicalNote:
    """Fill the draft's empty fields from the template; what is already written stays."""
    note, encounter = await _draft_to_change(session, actor=actor, note_id=note_id)
    check_version(note, expected_version)
    template = await get_template(session, template_id)
    before = audit.snapshot(note)
    for name, value in template.texts().items():
        if value and not (getattr(note, name) or "").strip():
            setattr(note, name, value)
    note.template_id = template.id
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="note.template_applied",
        note=note,
        patient_id=encounter.patient_id,
        before=before,
        details={"template": template.name},
    )
    return note


# --- signing --------------------------------------------------------------------------------


async def sign_note(
    session: AsyncSession, *, actor: Actor, note_id: uuid.UUID, expected_version: int | None
) -> ClinicalNote:
    """Sign the draft: its text is locked from now on. Only its author signs it, and
    only a note with something written in it."""
    note, encounter = await _draft_to_change(session, actor=actor, note_id=note_id)
    check_version(note, expected_version)
    if not any((value or "").strip() for value in note.texts().values()):
        raise NoteStepRefused("The note is empty: write it before signing it.")
    before = audit.snapshot(note)
    note.status = NoteStatus.SIGNED
    note.signed_at = utcnow()
    note.signed_by_id = actor.user_id
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="note.signed",
        note=note,
        patient_id=encounter.patient_id,
        before=before,
    )
    return note


async def cosign_note(
    session: AsyncSession, *, actor: Actor, note_id: uuid.UUID, expected_version: int | None
) -> ClinicalNote:
    """The named co-signer (a trainee's supervisor) co-signs the signed note, once."""
    note = await _find(session, note_id)
    encounter = await _encounter(session, note)
    await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    check_version(note, expected_version)
    if note.cosigner_required_id is None:
        raise NoteStepRefused("This note asks for no co-signature.")
    if note.cosigner_required_id != actor.user_id:
        raise NoteStepRefused("Only the co-signer the author named co-signs this note.")
    if not note.signed:
        raise NoteStepRefused("The author signs the note first; co-sign it after.")
    if note.cosigned_at is not None:
        raise NoteStepRefused("This note is already co-signed.")
    before = audit.snapshot(note)
    note.cosigned_by_id = actor.user_id
    note.cosigned_at = utcnow()
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="note.cosigned",
        note=note,
        patient_id=encounter.patient_id,
        before=before,
    )
    return note


async def add_addendum(
    session: AsyncSession, *, actor: Actor, note_id: uuid.UUID, data: AddendumWrite
) -> NoteAddendum:
    """Append an addendum (more to say) or an amendment (a correction, with its reason)
    to a signed note, signed and timestamped as it is saved. Allowed after the
    consultation is closed; a draft is changed directly instead."""
    note = await _find(session, note_id)
    encounter = await _encounter(session, note)
    await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    if not note.signed:
        raise NoteStepRefused("This note is still a draft: change it directly.")
    addendum = NoteAddendum(
        note_id=note.id,
        kind=data.kind,
        text=data.text or "",
        reason=data.reason,
        author_id=actor.user_id,
        signed_at=utcnow(),
    )
    session.add(addendum)
    await session.flush()
    amended = data.kind == NoteAddendumKind.AMENDMENT
    await audit.record(
        session,
        action="note.amended" if amended else "note.addendum_added",
        actor=actor,
        resource_type=RESOURCE,
        resource_id=note.id,
        patient_id=encounter.patient_id,
        changes=audit.changes(None, audit.snapshot(addendum)),
        details={"addendum_id": str(addendum.id)},
    )
    return addendum


# --- history --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteVersion:
    """The note as it stood after one audited change."""

    number: int
    at: datetime
    action: str
    who: str
    texts: dict[str, Any]
    status: str


ACTION_WORDS = {
    "note.created": "Started",
    "note.draft_saved": "Draft saved",
    "note.template_applied": "Template applied",
    "note.signed": "Signed",
    "note.cosigned": "Co-signed",
    "note.addendum_added": "Addendum",
    "note.amended": "Amendment",
}


async def note_history(
    session: AsyncSession, *, actor: Actor, note_id: uuid.UUID
) -> list[NoteVersion]:
    """Every version of the note, oldest first, rebuilt from the audit trail (the trail
    is the history: nothing keeps a second copy). Addenda appear as their own entries
    with their text. Reading past versions is a read of the record (recorded)."""
    view = await get_note(session, note_id, actor=actor)
    events = await audit.resource_trail(session, resource_type=RESOURCE, resource_id=view.note.id)
    names = await identity.names_of(session, {e.actor_user_id for e in events if e.actor_user_id})
    state: dict[str, Any] = {}
    versions: list[NoteVersion] = []
    for event in events:
        if event.action not in ACTION_WORDS:
            continue
        changes = event.changes or {}
        if event.action in ("note.addendum_added", "note.amended"):
            shown = {k: (changes.get(k) or {}).get("after") for k in ("kind", "text", "reason")}
        else:
            for name, change in changes.items():
                if isinstance(change, dict) and "after" in change:
                    state[name] = change["after"]
            shown = {name: state.get(name) for name in DRAFT_FIELDS}
        versions.append(
            NoteVersion(
                number=len(versions) + 1,
                at=event.occurred_at,
                action=event.action,
                who=names.get(event.actor_user_id, "Former user")
                if event.actor_user_id
                else "System",
                texts=shown,
                status=str(state.get("status", NoteStatus.DRAFT)),
            )
        )
    return versions


async def patient_of(session: AsyncSession, note: ClinicalNote) -> uuid.UUID:
    return (await _encounter(session, note)).patient_id
