"""Encounters: open one (from the queue's visit, from an appointment, or ad hoc), read
one or a patient's list, change its reason, cancel it. Finishing is ``closing``'s:
it asks every part of the consultation whether something is left undone.

Every read of an encounter is a read of its patient's record (audited); every change
is audited in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import EncounterClosed, EncounterNotFound, EncounterStepRefused
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.schemas.encounters import EncounterCancel, EncounterStart
from clinicdesk.clinical.vocabulary import (
    OPEN_ENCOUNTER_STATUSES,
    EncounterKind,
    EncounterStatus,
)
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.patients import public as patients
from clinicdesk.queue import public as queue
from clinicdesk.scheduling import public as scheduling

RESOURCE = "encounter"


async def _find(session: AsyncSession, encounter_id: uuid.UUID) -> Encounter:
    encounter = await session.get(Encounter, encounter_id)
    if encounter is None:
        raise EncounterNotFound("No consultation with this id.")
    return encounter


async def find_encounter(session: AsyncSession, encounter_id: uuid.UUID) -> Encounter:
    """The encounter without recording a read: for other domains' system work (billing
    drafting an invoice), never to show it to a person."""
    return await _find(session, encounter_id)


async def get_encounter(
    session: AsyncSession, encounter_id: uuid.UUID, *, actor: Actor
) -> Encounter:
    """The encounter for ``actor`` to see: its patient's record must be open to them
    (a restricted record needs a grant), and the read is recorded."""
    encounter = await _find(session, encounter_id)
    await patients.get_patient(session, encounter.patient_id, actor=actor)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=encounter.patient_id,
        view="encounter",
        resource_type=RESOURCE,
        resource_id=encounter.id,
    )
    return encounter


async def get_open_encounter(
    session: AsyncSession,
    encounter_id: uuid.UUID,
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> Encounter:
    """The encounter to write into: open (planned or in progress), on a record the actor
    may change. A closed one is refused with what to do instead."""
    encounter = await _find(session, encounter_id)
    await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    check_version(encounter, expected_version)
    if encounter.status not in OPEN_ENCOUNTER_STATUSES:
        raise EncounterClosed(
            f"This consultation is {encounter.status}; nothing more can be written into "
            "it. Add an addendum to its note, or start a new consultation."
        )
    return encounter


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    encounter: Encounter,
    before: dict[str, Any] | None,
) -> None:
    """The audit entry of a change to ``encounter`` (``before``: its snapshot before the
    change, None for a new one); nothing is recorded when nothing changed."""
    await session.flush()
    diff = audit.changes(before, audit.snapshot(encounter))
    if not diff:
        return
    await audit.record(
        session,
        action=action,
        actor=actor,
        resource_type=RESOURCE,
        resource_id=encounter.id,
        patient_id=encounter.patient_id,
        changes=diff,
    )


async def start_encounter(
    session: AsyncSession, *, actor: Actor, data: EncounterStart
) -> Encounter:
    """Open a consultation by the signed-in provider. With an appointment: the patient
    must be the appointment's, its location and reason are taken, and an encounter
    already open for it is returned rather than a second one opened. Without one, the
    provider's open ad hoc consultation with this patient, if any, is returned."""
    provider = await queue.provider_of(session, actor)
    patient = await patients.get_writable_patient(session, data.patient_id, actor=actor)
    location_id, reason = data.location_id, data.reason
    if data.appointment_id is not None:
        appointment = await scheduling.get_appointment(session, data.appointment_id)
        if appointment.patient_id != patient.id:
            raise EncounterStepRefused("This appointment belongs to another patient.")
        existing = await session.scalar(
            select(Encounter).where(
                Encounter.appointment_id == appointment.id,
                Encounter.status.in_(OPEN_ENCOUNTER_STATUSES),
            )
        )
        if existing is not None:
            return existing
        location_id = location_id or appointment.location_id
        reason = reason or appointment.reason
    else:
        # A second click, or a call back while the first is still open: the doctor goes
        # on with the consultation they have open with this patient.
        existing = await session.scalar(
            select(Encounter).where(
                Encounter.patient_id == patient.id,
                Encounter.provider_id == provider.id,
                Encounter.visit_id.is_(None),
                Encounter.appointment_id.is_(None),
                Encounter.status.in_(OPEN_ENCOUNTER_STATUSES),
            )
        )
        if existing is not None:
            return existing
    if location_id is not None:
        await scheduling.check_works_at(session, provider.id, location_id)
    elif data.kind in (EncounterKind.IN_PERSON,):
        raise EncounterStepRefused(
            "Say where the patient is seen: choose a location, or pick phone or video."
        )
    encounter = Encounter(
        patient_id=patient.id,
        provider_id=provider.id,
        location_id=location_id,
        appointment_id=data.appointment_id,
        kind=data.kind,
        status=EncounterStatus.IN_PROGRESS,
        reason=reason,
        started_at=utcnow(),
        started_by_id=actor.user_id,
    )
    session.add(encounter)
    await session.flush()
    await record_change(
        session, actor=actor, action="encounter.started", encounter=encounter, before=None
    )
    return encounter


async def start_for_visit(session: AsyncSession, started: queue.VisitStarted) -> Encounter:
    """The queue's visit went into consultation: open its encounter, or reopen the one
    it had if the patient was sent back to waiting and called in again."""
    encounter = await session.scalar(
        select(Encounter).where(Encounter.visit_id == started.visit_id)
    )
    if encounter is not None:
        if encounter.status not in OPEN_ENCOUNTER_STATUSES:
            before = audit.snapshot(encounter)
            encounter.status = EncounterStatus.IN_PROGRESS
            encounter.finished_at = None
            await record_change(
                session,
                actor=started.actor,
                action="encounter.resumed",
                encounter=encounter,
                before=before,
            )
        return encounter
    reason = None
    if started.appointment_id is not None:
        reason = (await scheduling.get_appointment(session, started.appointment_id)).reason
    encounter = Encounter(
        patient_id=started.patient_id,
        provider_id=started.provider_id,
        location_id=started.location_id,
        appointment_id=started.appointment_id,
        visit_id=started.visit_id,
        kind=EncounterKind.IN_PERSON,
        status=EncounterStatus.IN_PROGRESS,
        reason=reason,
        started_at=utcnow(),
        started_by_id=started.actor.user_id,
    )
    session.add(encounter)
    await session.flush()
    await record_change(
        session, actor=started.actor, action="encounter.started", encounter=encounter, before=None
    )
    return encounter


async def encounter_of_visit(session: AsyncSession, visit_id: uuid.UUID) -> Encounter | None:
    return await session.scalar(select(Encounter).where(Encounter.visit_id == visit_id))


@dataclass(frozen=True, slots=True)
class EncounterPage:
    items: Sequence[Encounter]
    next_cursor: str | None


async def list_for_patient(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = 20,
) -> EncounterPage:
    """The patient's consultations, newest first, a page at a time (a chart with 500
    encounters opens with its latest 20)."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    offset = decode_cursor(cursor)
    rows = list(
        await session.scalars(
            select(Encounter)
            .where(Encounter.patient_id == patient.id)
            .order_by(Encounter.started_at.desc(), Encounter.id.desc())
            .offset(offset)
            .limit(limit + 1)
        )
    )
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="encounters")
    more = len(rows) > limit
    return EncounterPage(rows[:limit], encode_cursor(offset + limit) if more else None)


@dataclass(frozen=True, slots=True)
class OpenConsultation:
    encounter: Encounter
    patient: patients.Patient


async def my_open_consultations(
    session: AsyncSession, *, actor: Actor, limit: int = 50
) -> list[OpenConsultation]:
    """The signed-in provider's consultations still open, oldest first, with what is left
    to do (the doctor's home lists them). Empty for someone who is not a provider. The
    list names patients, so it is recorded as a list read."""
    try:
        provider = await queue.provider_of(session, actor)
    except queue.NotAProvider:
        return []
    rows = list(
        await session.scalars(
            select(Encounter)
            .where(
                Encounter.provider_id == provider.id,
                Encounter.status.in_(OPEN_ENCOUNTER_STATUSES),
            )
            .order_by(Encounter.started_at)
            .limit(limit)
        )
    )
    found = await patients.patients_by_id(session, {e.patient_id for e in rows})
    await audit.record_list_read(
        session, actor=actor, patient_ids=found.keys(), view="open consultations"
    )
    return [OpenConsultation(e, found[e.patient_id]) for e in rows if e.patient_id in found]


async def change_reason(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None = None,
) -> Encounter:
    encounter = await get_open_encounter(
        session, encounter_id, actor=actor, expected_version=expected_version
    )
    before = audit.snapshot(encounter)
    encounter.reason = reason
    await record_change(
        session, actor=actor, action="encounter.updated", encounter=encounter, before=before
    )
    return encounter


async def cancel_encounter(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    data: EncounterCancel,
    expected_version: int | None = None,
) -> Encounter:
    """Cancel an open consultation (the patient left), or mark any consultation
    entered-in-error (wrong patient). Nothing is deleted: what was written stays on the
    record with the encounter's status saying why it does not count."""
    encounter = await _find(session, encounter_id)
    await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    check_version(encounter, expected_version)
    if encounter.status == EncounterStatus.ENTERED_IN_ERROR:
        raise EncounterStepRefused("This consultation is already marked entered in error.")
    if not data.entered_in_error and encounter.status not in OPEN_ENCOUNTER_STATUSES:
        raise EncounterStepRefused(
            f"A {encounter.status} consultation cannot be cancelled; mark it entered in "
            "error if it should never have existed."
        )
    before = audit.snapshot(encounter)
    encounter.status = (
        EncounterStatus.ENTERED_IN_ERROR if data.entered_in_error else EncounterStatus.CANCELLED
    )
    encounter.cancel_reason = data.reason
    encounter.open_reason = None
    encounter.finished_at = encounter.finished_at or utcnow()
    await record_change(
        session,
        actor=actor,
        action="encounter.entered_in_error" if data.entered_in_error else "encounter.cancelled",
        encounter=encounter,
        before=before,
    )
    return encounter
