"""Request and response shapes of notes, addenda, note templates and quick phrases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from clinicdesk.clinical.vocabulary import NoteAddendumKind, NoteKind, NoteStatus
from clinicdesk.core.schemas import Strict, safe_text

# A note section is long free text; the limit only stops a runaway paste.
NOTE_TEXT_MAX = 20_000
# The length limit sits on the text inside the optional, so an explicit null is fine.
NoteText = Annotated[
    Annotated[str, StringConstraints(max_length=NOTE_TEXT_MAX)] | None,
    AfterValidator(safe_text),
]
Title = Annotated[
    Annotated[str, StringConstraints(max_length=200)] | None, AfterValidator(safe_text)
]
Reason = Annotated[
    Annotated[str, StringConstraints(max_length=300)] | None, AfterValidator(safe_text)
]
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_TEXT_MAX),
    AfterValidator(safe_text),
]
Trigger = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^\.?[a-z][a-z0-9_-]{0,29}$"),
]


class NoteTexts(Strict):
    """What a draft holds: the four SOAP parts, or a free-form body, and a title."""

    title: Title = None
    subjective: NoteText = None
    objective: NoteText = None
    assessment: NoteText = None
    plan: NoteText = None
    body: NoteText = None


class NoteCreate(NoteTexts):
    """A new draft. ``main``: the consultation's own note (one per encounter);
    otherwise a free note beside it. ``cosigner_id``: the supervisor whose co-signature
    a trainee's note needs."""

    kind: NoteKind = NoteKind.SOAP
    main: bool = True
    cosigner_id: uuid.UUID | None = None


class NoteDraft(NoteTexts):
    """A draft saved as it is typed (every field sent; an absent field is emptied)."""


class NoteTemplateApply(Strict):
    template_id: uuid.UUID


class AddendumWrite(Strict):
    """Appended to a signed note and signed on saving. An amendment says why."""

    kind: NoteAddendumKind = NoteAddendumKind.ADDENDUM
    text: RequiredText
    reason: Reason = None

    @model_validator(mode="after")
    def _amendment_says_why(self) -> AddendumWrite:
        if self.kind == NoteAddendumKind.AMENDMENT and not self.reason:
            raise ValueError("an amendment needs its reason (what was wrong)")
        return self


class AddendumRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: NoteAddendumKind
    text: str
    reason: str | None
    author_id: uuid.UUID
    signed_at: datetime


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    encounter_id: uuid.UUID
    is_main: bool
    kind: NoteKind
    title: str | None
    subjective: str | None
    objective: str | None
    assessment: str | None
    plan: str | None
    body: str | None
    status: NoteStatus
    author_id: uuid.UUID
    template_id: uuid.UUID | None
    signed_at: datetime | None
    signed_by_id: uuid.UUID | None
    cosigner_required_id: uuid.UUID | None
    cosigned_by_id: uuid.UUID | None
    cosigned_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    addenda: list[AddendumRead] = Field(
        default_factory=list, description="Addenda and amendments, oldest first."
    )


class NoteList(BaseModel):
    items: list[NoteRead]


class NoteTemplateWrite(Strict):
    name: str = Field(min_length=1, max_length=100)
    appointment_type_id: uuid.UUID | None = Field(
        default=None, description="Offered first for encounters booked with this type."
    )
    subjective: NoteText = None
    objective: NoteText = None
    assessment: NoteText = None
    plan: NoteText = None
    body: NoteText = None
    is_active: bool = True


class NoteTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    appointment_type_id: uuid.UUID | None
    subjective: str | None
    objective: str | None
    assessment: str | None
    plan: str | None
    body: str | None
    is_active: bool
    version: int


class NoteTemplateList(BaseModel):
    items: list[NoteTemplateRead]


class QuickPhraseWrite(Strict):
    """``.trigger`` (letters, digits, - and _; the dot is optional here) and its text.
    ``shared``: the organization's phrase for everyone, rather than one's own."""

    trigger: Trigger
    expansion: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000),
        AfterValidator(safe_text),
    ]
    shared: bool = False


class QuickPhraseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID | None
    trigger: str
    expansion: str
    version: int


class QuickPhraseList(BaseModel):
    items: list[QuickPhraseRead]


class ExpandRequest(Strict):
    text: NoteText = None


class ExpandAnswer(BaseModel):
    text: str = Field(description="The text with every known .trigger replaced.")
