"""Clinical notes: the note of an encounter (SOAP or free text), its addenda and
amendments, the organization's note templates and the quick phrases that expand as a
doctor types."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, event, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.clinical.vocabulary import NoteAddendumKind, NoteKind, NoteStatus
from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped

# What a signature covers: once signed, none of these changes again.
NOTE_TEXT_FIELDS = ("subjective", "objective", "assessment", "plan", "body")
LOCKED_FIELDS = (*NOTE_TEXT_FIELDS, "kind", "title", "author_id", "encounter_id")


class ClinicalNote(Base, Entity, TenantScoped):
    """A note written during an encounter. ``is_main``: the consultation's own note (one
    per encounter, what the "Note" section edits); other notes of the encounter are free
    notes (a phone call back, a triage note).

    A draft changes as it is typed (every save versioned and audited); signing locks it
    for good: what comes later is an addendum or an amendment (``NoteAddendum``).
    ``cosigner_required_id``: a trainee's note waits for this supervisor's co-signature.
    """

    __tablename__ = "clinical_notes"

    encounter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("encounters.id", ondelete="RESTRICT")
    )
    is_main: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(8), default=NoteKind.SOAP)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    subjective: Mapped[str | None] = mapped_column(Text, default=None)
    objective: Mapped[str | None] = mapped_column(Text, default=None)
    assessment: Mapped[str | None] = mapped_column(Text, default=None)
    plan: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(8), default=NoteStatus.DRAFT)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("note_templates.id", ondelete="SET NULL"), default=None
    )
    signed_at: Mapped[datetime | None] = mapped_column(default=None)
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), default=None
    )
    cosigner_required_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), default=None
    )
    cosigned_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), default=None
    )
    cosigned_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_clinical_notes_encounter", "encounter_id"),
        # One main note per encounter, whatever two tabs do at once.
        Index(
            "uq_clinical_notes_main",
            "encounter_id",
            unique=True,
            sqlite_where=text("is_main"),
            postgresql_where=text("is_main"),
        ),
    )

    @property
    def signed(self) -> bool:
        return self.status == NoteStatus.SIGNED

    @property
    def awaiting_cosignature(self) -> bool:
        return self.cosigner_required_id is not None and self.cosigned_at is None

    def texts(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in NOTE_TEXT_FIELDS}


class SignedNoteChanged(RuntimeError):
    """A programming error: code tried to change a signed note's text in place. The
    services refuse first (``NoteLocked``, 409); this is the floor under them."""


@event.listens_for(ClinicalNote, "before_update")
def _refuse_editing_signed(_mapper: Any, _connection: Any, note: ClinicalNote) -> None:
    state = inspect(note)
    status = state.attrs.status.history
    was_signed = (status.deleted or [note.status])[0] == NoteStatus.SIGNED
    if not was_signed:
        return
    changed = [name for name in LOCKED_FIELDS if state.attrs[name].history.has_changes()]
    if changed:
        raise SignedNoteChanged(f"a signed note's {', '.join(changed)} cannot change")


class NoteAddendum(Base, Entity, TenantScoped):
    """Text appended to a signed note: an addendum adds to it, an amendment corrects it
    (with the reason). Signed and timestamped when saved; never changed afterwards."""

    __tablename__ = "note_addenda"

    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinical_notes.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10), default=NoteAddendumKind.ADDENDUM)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signed_at: Mapped[datetime]

    __table_args__ = (Index("ix_note_addenda_note", "note_id", "signed_at"),)


class NoteTemplate(Base, Entity, TenantScoped):
    """Prefilled note text for the organization, or for one appointment type (offered
    first for an encounter booked with it). Applying one fills the empty fields of a
    draft."""

    __tablename__ = "note_templates"

    name: Mapped[str] = mapped_column(String(100))
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="SET NULL"), default=None
    )
    subjective: Mapped[str | None] = mapped_column(Text, default=None)
    objective: Mapped[str | None] = mapped_column(Text, default=None)
    assessment: Mapped[str | None] = mapped_column(Text, default=None)
    plan: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    def texts(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in NOTE_TEXT_FIELDS}


class QuickPhrase(Base, Entity, TenantScoped):
    """``.trigger`` → text, typed in a note. ``owner_id`` None: the organization's, for
    everyone; otherwise one person's own (theirs wins over the organization's)."""

    __tablename__ = "quick_phrases"

    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    trigger: Mapped[str] = mapped_column(String(30))
    expansion: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_quick_phrases_owner_trigger", "owner_id", "trigger"),)
