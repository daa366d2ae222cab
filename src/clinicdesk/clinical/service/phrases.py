"""Quick phrases: ``.trigger`` words that expand as a doctor types a note.

Two kinds: builtins that read the patient's record (``.meds``, ``.allergies``,
``.problems``, ``.age``; ``.bp`` joins from the vitals part), and phrases people write:
their own, and the organization's shared ones (one's own wins on the same trigger).
A builtin's name cannot be taken by a written phrase.

Expanding a builtin reads the patient's record: the patient must be open to the actor and
the read is recorded. The pure matching lives in ``kernel.phrases``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import QuickPhraseNotFound, QuickPhraseTaken
from clinicdesk.clinical.kernel.phrases import age_text, find_triggers, replace_triggers
from clinicdesk.clinical.models import QuickPhrase
from clinicdesk.clinical.schemas.notes import QuickPhraseWrite
from clinicdesk.clinical.service import vitals
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients import public as patients

RESOURCE = "quick_phrase"


@dataclass(frozen=True, slots=True)
class PhraseContext:
    """What a builtin is given: the session, who types, and the patient of the note."""

    session: AsyncSession
    actor: Actor
    patient: patients.Patient

    @property
    def patient_id(self) -> uuid.UUID:
        return self.patient.id


Expand = Callable[[PhraseContext], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Builtin:
    trigger: str
    description: str
    expand: Expand


BUILTINS: dict[str, Builtin] = {}


def register_builtin(trigger: str, description: str, expand: Expand) -> None:
    """Add a builtin phrase (``None`` from ``expand``: nothing recorded, said in words)."""
    BUILTINS[trigger] = Builtin(trigger, description, expand)


async def _medications(context: PhraseContext) -> str:
    entries = await patients.list_entries(
        context.session, actor=context.actor, patient_id=context.patient_id, kind="medications"
    )
    lines = []
    for entry in entries:
        if not isinstance(entry, patients.Medication) or entry.status != "active":
            continue
        how = ", ".join(part for part in (entry.dose, entry.frequency, entry.route) if part)
        lines.append(f"{entry.name} {how}".strip())
    return "; ".join(lines) if lines else "No current medications recorded."


async def _allergies(context: PhraseContext) -> str:
    found = patients.banner_allergies(
        await patients.active_allergies(context.session, patient_id=context.patient_id)
    )
    lines = []
    for allergy in found:
        about = ", ".join(part for part in (allergy.reaction, allergy.severity) if part)
        lines.append(f"{allergy.substance} ({about})" if about else allergy.substance)
    return "; ".join(lines) if lines else "No allergies recorded."


async def _problems(context: PhraseContext) -> str:
    entries = await patients.list_entries(
        context.session, actor=context.actor, patient_id=context.patient_id, kind="problems"
    )
    lines = [
        f"{p.description} ({p.icd10_code})" if p.icd10_code else p.description
        for p in entries
        if isinstance(p, patients.Problem) and p.status == "active"
    ]
    return "; ".join(lines) if lines else "No active problems recorded."


async def _age(context: PhraseContext) -> str | None:
    born = context.patient.birth_date
    return age_text(born, utcnow().date()) if born is not None else None


register_builtin("meds", "Current medications", _medications)
register_builtin("allergies", "Active allergies", _allergies)
register_builtin("problems", "Active problems", _problems)
register_builtin("age", "The patient's age", _age)


async def _blood_pressure(context: PhraseContext) -> str | None:
    return await vitals.latest_blood_pressure_text(context.session, patient_id=context.patient_id)


async def _vitals(context: PhraseContext) -> str | None:
    return await vitals.latest_vitals_text(context.session, patient_id=context.patient_id)


register_builtin("bp", "Last blood pressure", _blood_pressure)
register_builtin("vitals", "Last set of vital signs", _vitals)


def _mine_or_shared(actor: Actor) -> ColumnElement[bool]:
    return or_(QuickPhrase.owner_id == actor.user_id, QuickPhrase.owner_id.is_(None))


async def list_phrases(session: AsyncSession, *, actor: Actor) -> list[QuickPhrase]:
    """The actor's own phrases and the organization's, by trigger (own first)."""
    rows = await session.scalars(
        select(QuickPhrase)
        .where(_mine_or_shared(actor))
        .order_by(QuickPhrase.trigger, QuickPhrase.owner_id.is_(None))
    )
    return list(rows)


async def written_phrases(session: AsyncSession, *, actor: Actor) -> dict[str, str]:
    """Trigger → text of the phrases the actor may use; their own win over shared ones."""
    found: dict[str, str] = {}
    for phrase in await list_phrases(session, actor=actor):
        found.setdefault(phrase.trigger, phrase.expansion)
    return found


async def known_triggers(session: AsyncSession, *, actor: Actor) -> list[str]:
    """Every trigger the actor can type (the page tells its script, so a Tab after a
    known trigger expands instead of leaving the field)."""
    return sorted({*BUILTINS, *(await written_phrases(session, actor=actor))})


async def expand(session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, text: str) -> str:
    """``text`` with every known ``.trigger`` replaced. Builtins read the patient's
    record (access checked, the read recorded); a builtin with nothing to say and an
    unknown trigger stay as typed."""
    wanted = find_triggers(text)
    if not wanted:
        return text
    expansions = {
        k: v for k, v in (await written_phrases(session, actor=actor)).items() if k in wanted
    }
    builtins = [BUILTINS[name] for name in sorted(wanted) if name in BUILTINS]
    if builtins:
        patient = await patients.get_patient(session, patient_id, actor=actor)
        context = PhraseContext(session, actor, patient)
        for builtin in builtins:
            value = await builtin.expand(context)
            if value is not None:
                expansions[builtin.trigger] = value
        await audit.record_read(
            session,
            actor=actor,
            patient_id=patient.id,
            view="quick phrases " + " ".join(f".{b.trigger}" for b in builtins),
        )
    return replace_triggers(text, expansions)


async def _find(session: AsyncSession, phrase_id: uuid.UUID, actor: Actor) -> QuickPhrase:
    phrase = await session.get(QuickPhrase, phrase_id)
    if phrase is None or phrase.owner_id not in (None, actor.user_id):
        # Someone else's own phrase is not there for the actor.
        raise QuickPhraseNotFound("No quick phrase with this id.")
    return phrase


async def _refuse_taken(
    session: AsyncSession, *, trigger: str, owner_id: uuid.UUID | None, keep: uuid.UUID | None
) -> None:
    if trigger in BUILTINS:
        raise QuickPhraseTaken(f".{trigger} is built in ({BUILTINS[trigger].description}).")
    owner = QuickPhrase.owner_id.is_(None) if owner_id is None else QuickPhrase.owner_id == owner_id
    statement = select(QuickPhrase.id).where(QuickPhrase.trigger == trigger, owner)
    if keep is not None:
        statement = statement.where(QuickPhrase.id != keep)
    if await session.scalar(statement) is not None:
        whose = "the organization" if owner_id is None else "you"
        raise QuickPhraseTaken(f".{trigger} is already a phrase of {whose}; change that one.")


# The audit entry of a change: ``_record(session, actor, action, row, before)``.
_record = partial(audit.record_change, resource_type=RESOURCE)


async def create_phrase(
    session: AsyncSession, *, actor: Actor, data: QuickPhraseWrite
) -> QuickPhrase:
    """One's own phrase, or (``shared``) the organization's for everyone."""
    trigger = data.trigger.removeprefix(".")
    owner_id = None if data.shared else actor.user_id
    await _refuse_taken(session, trigger=trigger, owner_id=owner_id, keep=None)
    phrase = QuickPhrase(owner_id=owner_id, trigger=trigger, expansion=data.expansion)
    session.add(phrase)
    await session.flush()
    await _record(session, actor, "quick_phrase.created", phrase, None)
    return phrase


async def get_phrase(session: AsyncSession, *, actor: Actor, phrase_id: uuid.UUID) -> QuickPhrase:
    return await _find(session, phrase_id, actor)


async def update_phrase(
    session: AsyncSession,
    *,
    actor: Actor,
    phrase_id: uuid.UUID,
    data: QuickPhraseWrite,
    expected_version: int | None,
) -> QuickPhrase:
    """Change the trigger or text (whether it is shared stays as it was)."""
    phrase = await _find(session, phrase_id, actor)
    check_version(phrase, expected_version)
    trigger = data.trigger.removeprefix(".")
    await _refuse_taken(session, trigger=trigger, owner_id=phrase.owner_id, keep=phrase.id)
    before = audit.snapshot(phrase)
    phrase.trigger, phrase.expansion = trigger, data.expansion or ""
    await session.flush()
    await _record(session, actor, "quick_phrase.updated", phrase, before)
    return phrase


async def delete_phrase(
    session: AsyncSession, *, actor: Actor, phrase_id: uuid.UUID, expected_version: int | None
) -> None:
    phrase = await _find(session, phrase_id, actor)
    check_version(phrase, expected_version)
    before = audit.snapshot(phrase)
    await session.delete(phrase)
    await session.flush()
    await audit.record(
        session,
        action="quick_phrase.deleted",
        actor=actor,
        resource_type=RESOURCE,
        resource_id=phrase_id,
        changes={k: {"before": v} for k, v in before.items() if k in ("trigger", "owner_id")},
    )


def builtin_list() -> Sequence[Builtin]:
    return sorted(BUILTINS.values(), key=lambda b: b.trigger)
