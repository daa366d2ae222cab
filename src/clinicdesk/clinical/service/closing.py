"""Finishing a consultation. It finishes only when nothing is left undone: each part of
the consultation says what is (``unfinished_work``: "the note is not signed" ...).

The queue's visit finishing is not refused for that: the patient has left the room. The
encounter then stays open with the reason kept in ``open_reason``, and the doctor's home
lists it until the doctor closes it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import EncounterStepRefused
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.service import notes
from clinicdesk.clinical.service.encounters import get_open_encounter, record_change
from clinicdesk.clinical.signals import EncounterFinished, encounter_finished
from clinicdesk.clinical.vocabulary import OPEN_ENCOUNTER_STATUSES, EncounterStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.queue import public as queue


async def unfinished_work(session: AsyncSession, encounter: Encounter) -> list[str]:
    """What must be done before ``encounter`` can finish, in words for the doctor; empty
    when it can. Each part of the consultation with such a rule adds its check here."""
    undone: list[str] = []
    if await notes.unsigned_notes(session, encounter.id):
        undone.append("The note is not signed.")
    return undone


async def _finish(session: AsyncSession, *, actor: Actor, encounter: Encounter) -> None:
    before = audit.snapshot(encounter)
    encounter.status = EncounterStatus.FINISHED
    encounter.finished_at = utcnow()
    encounter.open_reason = None
    await record_change(
        session, actor=actor, action="encounter.finished", encounter=encounter, before=before
    )
    await encounter_finished.send(session, finished_event(encounter, actor=actor))


def finished_event(encounter: Encounter, *, actor: Actor) -> EncounterFinished:
    """What ``encounter_finished`` announces of a finished encounter (billing drafts its
    invoice from it)."""
    return EncounterFinished(
        actor=actor,
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        provider_id=encounter.provider_id,
        location_id=encounter.location_id,
        appointment_id=encounter.appointment_id,
    )


async def finish_encounter(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    expected_version: int | None = None,
) -> Encounter:
    """Finish the consultation. Refused (409, with every reason) while work is left
    undone. A consultation of a queue visit still in the room finishes that visit too
    (the patient leaves; the visit's signal then finishes this encounter), so the doctor
    finishes once, from either screen."""
    encounter = await get_open_encounter(
        session, encounter_id, actor=actor, expected_version=expected_version
    )
    undone = await unfinished_work(session, encounter)
    if undone:
        raise EncounterStepRefused(
            "The consultation cannot be finished yet: " + " ".join(undone),
            undone=undone,
        )
    if encounter.visit_id is not None:
        visit = await queue.get_visit(session, encounter.visit_id)
        if visit.status == queue.VisitStatus.IN_CONSULTATION:
            await queue.finish_visit(session, actor=actor, visit_id=visit.id)
            return encounter
    await _finish(session, actor=actor, encounter=encounter)
    return encounter


async def follow_finished_visit(session: AsyncSession, finished: queue.VisitFinished) -> None:
    """The queue's visit is done: its encounter finishes with it, or stays open saying
    why (the patient has left the room either way)."""
    encounter = await session.scalar(
        select(Encounter).where(
            Encounter.visit_id == finished.visit_id,
            Encounter.status.in_(OPEN_ENCOUNTER_STATUSES),
        )
    )
    if encounter is None:
        return
    undone = await unfinished_work(session, encounter)
    if not undone:
        await _finish(session, actor=finished.actor, encounter=encounter)
        return
    before = audit.snapshot(encounter)
    encounter.open_reason = " ".join(undone)[:200]
    await record_change(
        session,
        actor=finished.actor,
        action="encounter.left_open",
        encounter=encounter,
        before=before,
    )
