"""An encounter's diagnoses: add (ICD-10-CM coded, or uncoded free text), rank one
primary, note, mark entered in error, and put one on the patient's problem list.

Rules:

* A code must be an ICD-10-CM code (``patients.lookup_icd10``); it is stored as the
  classification writes it ("E11.9"). Without a code the description is required and
  the diagnosis is *uncoded* (shown so, to be coded later).
* At most one active primary diagnosis per encounter: a new primary (added, or ranked
  so) makes the previous one secondary, each change audited. The first diagnosis of a
  consultation is primary unless said otherwise.
* A code is diagnosed once per consultation (a second one is refused, 409).
* Diagnoses are written while the consultation is open. Marking one entered in error
  is a correction and works on a closed consultation too; nothing is deleted.
* A chronic diagnosis (``kernel/chronic.py``) not yet on the problem list offers to
  add itself there; any active diagnosis may be added (once).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import DiagnosisNotFound, DiagnosisRefused
from clinicdesk.clinical.kernel.chronic import chronic_condition
from clinicdesk.clinical.models import Diagnosis, Encounter
from clinicdesk.clinical.schemas.diagnoses import DiagnosisChange, DiagnosisError, DiagnosisWrite
from clinicdesk.clinical.service.encounters import get_encounter, get_open_encounter
from clinicdesk.clinical.vocabulary import DiagnosisRank, DiagnosisStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version
from clinicdesk.patients import public as patients

RESOURCE = "diagnosis"


@dataclass(frozen=True, slots=True)
class DiagnosisView:
    """A diagnosis with what the problem list says about it."""

    diagnosis: Diagnosis
    chronic_condition: str | None
    on_problem_list: bool

    @property
    def offer_problem_list(self) -> bool:
        return (
            self.chronic_condition is not None
            and not self.on_problem_list
            and self.diagnosis.status == DiagnosisStatus.ACTIVE
        )


def _same_problem(diagnosis: Diagnosis, problem: patients.Problem) -> bool:
    if diagnosis.icd10_code:
        return problem.icd10_code == diagnosis.icd10_code
    return problem.description.strip().casefold() == diagnosis.description.strip().casefold()


async def _problems(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID
) -> Sequence[patients.Problem]:
    entries = await patients.list_entries(
        session, actor=actor, patient_id=patient_id, kind="problems"
    )
    return [e for e in entries if isinstance(e, patients.Problem)]


async def _views(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, rows: Sequence[Diagnosis]
) -> list[DiagnosisView]:
    problems = await _problems(session, actor, patient_id) if rows else []
    return [
        DiagnosisView(
            d, chronic_condition(d.icd10_code), any(_same_problem(d, p) for p in problems)
        )
        for d in rows
    ]


async def _rows(session: AsyncSession, encounter_id: uuid.UUID) -> Sequence[Diagnosis]:
    statement = (
        select(Diagnosis)
        .where(Diagnosis.encounter_id == encounter_id)
        # Primary first, then in the order made; entered-in-error ones last.
        .order_by(
            (Diagnosis.status != DiagnosisStatus.ACTIVE),
            (Diagnosis.rank != DiagnosisRank.PRIMARY),
            Diagnosis.created_at,
            Diagnosis.id,
        )
    )
    return (await session.scalars(statement)).all()


async def list_diagnoses(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID
) -> list[DiagnosisView]:
    """The consultation's diagnoses, primary first; the read is recorded (through the
    encounter's)."""
    encounter = await get_encounter(session, encounter_id, actor=actor)
    return await diagnoses_of(session, actor=actor, encounter=encounter)


async def diagnoses_of(
    session: AsyncSession, *, actor: Actor, encounter: Encounter
) -> list[DiagnosisView]:
    """The diagnoses of an encounter the caller has already read (``get_encounter``, which
    recorded the read): the consultation page's section."""
    return await _views(session, actor, encounter.patient_id, await _rows(session, encounter.id))


async def view_of(session: AsyncSession, *, actor: Actor, diagnosis: Diagnosis) -> DiagnosisView:
    return (await _views(session, actor, diagnosis.patient_id, [diagnosis]))[0]


# The audit entry of a change: ``_record(session, actor, action, row, before)``.
_record = partial(audit.record_change, resource_type=RESOURCE)


async def _demote_primary(
    session: AsyncSession, actor: Actor, encounter_id: uuid.UUID, keep: uuid.UUID | None
) -> None:
    """The encounter's current primary (other than ``keep``) becomes secondary, flushed
    before the new primary is written (the partial unique index checks each row)."""
    current = await session.scalar(
        select(Diagnosis).where(
            Diagnosis.encounter_id == encounter_id,
            Diagnosis.rank == DiagnosisRank.PRIMARY,
            Diagnosis.status == DiagnosisStatus.ACTIVE,
        )
    )
    if current is None or current.id == keep:
        return
    before = audit.snapshot(current)
    current.rank = DiagnosisRank.SECONDARY
    await session.flush()
    await _record(session, actor, "diagnosis.updated", current, before)


async def _active(session: AsyncSession, encounter_id: uuid.UUID) -> Sequence[Diagnosis]:
    return (
        await session.scalars(
            select(Diagnosis).where(
                Diagnosis.encounter_id == encounter_id,
                Diagnosis.status == DiagnosisStatus.ACTIVE,
            )
        )
    ).all()


async def add_diagnosis(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID, data: DiagnosisWrite
) -> Diagnosis:
    encounter = await get_open_encounter(session, encounter_id, actor=actor)
    code = None
    if data.icd10_code:
        code = await patients.lookup_icd10(session, data.icd10_code)
        if code is None:
            raise InvalidField(
                "icd10_code",
                f"{data.icd10_code} is not an ICD-10-CM code; pick one from the list, or "
                "leave the code empty and describe the diagnosis.",
            )
    active = await _active(session, encounter.id)
    if code is not None and any(d.icd10_code == code.code for d in active):
        raise DiagnosisRefused(f"{code.code} is already a diagnosis of this consultation.")
    rank = data.rank or (
        DiagnosisRank.SECONDARY
        if any(d.rank == DiagnosisRank.PRIMARY for d in active)
        else DiagnosisRank.PRIMARY
    )
    if rank == DiagnosisRank.PRIMARY:
        await _demote_primary(session, actor, encounter.id, keep=None)
    diagnosis = Diagnosis(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        icd10_code=code.code if code else None,
        description=data.description or (code.title if code else ""),
        rank=rank,
        note=data.note,
        status=DiagnosisStatus.ACTIVE,
        recorded_by_id=actor.user_id,
    )
    session.add(diagnosis)
    await session.flush()
    await _record(session, actor, "diagnosis.added", diagnosis, None)
    return diagnosis


async def _find(session: AsyncSession, diagnosis_id: uuid.UUID) -> Diagnosis:
    diagnosis = await session.get(Diagnosis, diagnosis_id)
    if diagnosis is None:
        raise DiagnosisNotFound("No diagnosis with this id.")
    return diagnosis


async def get_diagnosis(
    session: AsyncSession, diagnosis_id: uuid.UUID, *, actor: Actor
) -> Diagnosis:
    """One diagnosis for ``actor`` to see (a read of its encounter, recorded)."""
    diagnosis = await _find(session, diagnosis_id)
    await get_encounter(session, diagnosis.encounter_id, actor=actor)
    return diagnosis


async def change_diagnosis(
    session: AsyncSession,
    *,
    actor: Actor,
    diagnosis_id: uuid.UUID,
    data: DiagnosisChange,
    expected_version: int | None,
) -> Diagnosis:
    """Rank or note, while the consultation is open. Ranking one primary makes the
    previous primary secondary."""
    diagnosis = await _find(session, diagnosis_id)
    await get_open_encounter(session, diagnosis.encounter_id, actor=actor)
    check_version(diagnosis, expected_version)
    if diagnosis.status != DiagnosisStatus.ACTIVE:
        raise DiagnosisRefused("This diagnosis was entered in error; add a new one instead.")
    before = audit.snapshot(diagnosis)
    if "rank" in data.model_fields_set and data.rank is not None:
        if data.rank == DiagnosisRank.PRIMARY:
            await _demote_primary(session, actor, diagnosis.encounter_id, keep=diagnosis.id)
        diagnosis.rank = data.rank
    if "note" in data.model_fields_set:
        diagnosis.note = data.note
    await session.flush()
    if audit.changes(before, audit.snapshot(diagnosis)):
        await _record(session, actor, "diagnosis.updated", diagnosis, before)
    return diagnosis


async def mark_entered_in_error(
    session: AsyncSession,
    *,
    actor: Actor,
    diagnosis_id: uuid.UUID,
    data: DiagnosisError,
    expected_version: int | None,
) -> Diagnosis:
    """A diagnosis that should never have been made: kept, marked, with the reason. A
    correction, so allowed after the consultation closed (on a record the actor may
    change)."""
    diagnosis = await _find(session, diagnosis_id)
    await patients.get_writable_patient(session, diagnosis.patient_id, actor=actor)
    check_version(diagnosis, expected_version)
    if diagnosis.status == DiagnosisStatus.ENTERED_IN_ERROR:
        raise DiagnosisRefused("This diagnosis is already marked entered in error.")
    before = audit.snapshot(diagnosis)
    diagnosis.status = DiagnosisStatus.ENTERED_IN_ERROR
    diagnosis.error_reason = data.reason
    await session.flush()
    await _record(session, actor, "diagnosis.entered_in_error", diagnosis, before)
    return diagnosis


async def add_to_problem_list(
    session: AsyncSession, *, actor: Actor, diagnosis_id: uuid.UUID
) -> patients.Problem:
    """The one-click "Add to problem list": an active problem with the diagnosis's code
    and description (the chart list audits the addition). Refused if the problem list
    already has it."""
    diagnosis = await _find(session, diagnosis_id)
    encounter: Encounter = await get_encounter(session, diagnosis.encounter_id, actor=actor)
    if diagnosis.status != DiagnosisStatus.ACTIVE:
        raise DiagnosisRefused("A diagnosis entered in error does not go on the problem list.")
    problems = await _problems(session, actor, encounter.patient_id)
    if any(_same_problem(diagnosis, p) for p in problems):
        raise DiagnosisRefused("The problem list already has this diagnosis.")
    problem = await patients.add_entry(
        session,
        actor=actor,
        patient_id=encounter.patient_id,
        kind="problems",
        data=patients.ProblemWrite(
            description=diagnosis.description, icd10_code=diagnosis.icd10_code
        ),
    )
    assert isinstance(problem, patients.Problem)  # noqa: S101 - kind="problems" makes one
    return problem
