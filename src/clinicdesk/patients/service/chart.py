"""The chart lists: allergies, medications, problems, history. One set of use cases
serves all four; ``CHART_LISTS`` says which table, which audit name and which permission
each uses (a nurse records allergies at triage; the other lists are the doctor's)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import Forbidden, InvalidField
from clinicdesk.core.models import check_version
from clinicdesk.core.permissions import Permission
from clinicdesk.patients.errors import ChartEntryNotFound, DuplicateAllergy
from clinicdesk.patients.models import Allergy, ChartRecord, HistoryEntry, Medication, Problem
from clinicdesk.patients.schemas import AllergyWrite, HistoryWrite, MedicationWrite, ProblemWrite
from clinicdesk.patients.service import icd10
from clinicdesk.patients.service.common import get_patient, get_writable_patient
from clinicdesk.patients.vocabulary import AllergySeverity, ClinicalStatus, MedicationStatus


@dataclass(frozen=True, slots=True)
class ChartList:
    model: type[ChartRecord]
    schema: type[BaseModel]
    noun: str  # for audit actions and messages: "allergy" -> "allergy.added"
    title: str  # the list's heading on the chart
    write_permission: Permission = Permission.CLINICAL_WRITE


CHART_LISTS: dict[str, ChartList] = {
    "allergies": ChartList(
        Allergy, AllergyWrite, "allergy", "Allergies", Permission.ALLERGIES_WRITE
    ),
    "medications": ChartList(Medication, MedicationWrite, "medication", "Medications"),
    "problems": ChartList(Problem, ProblemWrite, "problem", "Problems"),
    "history": ChartList(HistoryEntry, HistoryWrite, "history", "History"),
}


def may_change(actor: Actor, kind: str) -> bool:
    """Whether ``actor`` may add, change or remove entries of the ``kind`` list."""
    return actor.can(CHART_LISTS[kind].write_permission)


def _check_may_change(actor: Actor, kind: str) -> None:
    # The routes check this too; the use case holds it whoever calls it. After the
    # patient look-up, so a portal user learns nothing of another record.
    if not may_change(actor, kind):
        raise Forbidden(f"You may not change the {CHART_LISTS[kind].title.lower()} list.")


def _order(model: type[ChartRecord]) -> list[Any]:
    """Active first, the most serious allergies first, then newest."""
    status = getattr(model, "status", None)
    order: list[Any] = []
    if status is not None:
        order.append(
            case((status.in_([ClinicalStatus.ACTIVE, MedicationStatus.ACTIVE]), 0), else_=1)
        )
    if model is Allergy:
        order.append(
            case(
                (Allergy.severity == AllergySeverity.SEVERE, 0),
                (Allergy.severity == AllergySeverity.MODERATE, 1),
                else_=2,
            )
        )
    order.append(model.created_at.desc())
    return order


async def _check_codes(session: AsyncSession, data: BaseModel) -> dict[str, Any]:
    values = data.model_dump()
    if isinstance(data, ProblemWrite) and data.icd10_code:
        code = await icd10.lookup(session, data.icd10_code)
        if code is None:
            raise InvalidField(
                "icd10_code", f"{data.icd10_code} is not an ICD-10-CM code; pick one from the list."
            )
        values["icd10_code"] = code.code
    return values


async def list_entries(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, kind: str
) -> Sequence[ChartRecord]:
    spec = CHART_LISTS[kind]
    patient = await get_patient(session, patient_id, actor=actor)
    statement = select(spec.model).where(spec.model.patient_id == patient.id)
    return (await session.scalars(statement.order_by(*_order(spec.model)))).all()


async def active_allergies(session: AsyncSession, *, patient_id: uuid.UUID) -> Sequence[Allergy]:
    """The allergy banner: shown to everyone who may see the patient, clinical or not."""
    statement = select(Allergy).where(
        Allergy.patient_id == patient_id, Allergy.status == ClinicalStatus.ACTIVE
    )
    return (await session.scalars(statement.order_by(*_order(Allergy)))).all()


def substance_key(substance: str) -> str:
    """``"  Penicillin  G"`` and ``"penicillin g"`` are the same substance."""
    return " ".join(substance.split()).casefold()


def banner_allergies(allergies: Sequence[Allergy]) -> list[Allergy]:
    """Each substance once (the first of the given order: the most serious), so a
    duplicate recorded before duplicates were refused does not show twice."""
    seen: set[str] = set()
    shown: list[Allergy] = []
    for allergy in allergies:
        key = substance_key(allergy.substance)
        if key not in seen:
            seen.add(key)
            shown.append(allergy)
    return shown


async def _refuse_duplicate_allergy(
    session: AsyncSession, *, patient_id: uuid.UUID, entry: Allergy
) -> None:
    """An active allergy whose substance is already active on the chart is refused."""
    if entry.status != ClinicalStatus.ACTIVE:
        return
    key = substance_key(entry.substance)
    for other in await active_allergies(session, patient_id=patient_id):
        if other.id != entry.id and substance_key(other.substance) == key:
            raise DuplicateAllergy(
                f"{other.substance} is already on the active allergy list. Change that "
                "entry (severity, reaction) instead of adding it again."
            )


async def _get_entry(
    session: AsyncSession, spec: ChartList, patient_id: uuid.UUID, entry_id: uuid.UUID
) -> ChartRecord:
    entry = await session.get(spec.model, entry_id)
    if entry is None or entry.patient_id != patient_id:
        raise ChartEntryNotFound(f"No {spec.noun} entry with this id on this chart.")
    return entry


async def add_entry(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, kind: str, data: BaseModel
) -> ChartRecord:
    spec = CHART_LISTS[kind]
    patient = await get_writable_patient(session, patient_id, actor=actor)
    _check_may_change(actor, kind)
    entry = spec.model(**(await _check_codes(session, data)))
    entry.patient_id = patient.id
    entry.recorded_by_id = actor.user_id
    if isinstance(entry, Allergy):
        await _refuse_duplicate_allergy(session, patient_id=patient.id, entry=entry)
    session.add(entry)
    if isinstance(entry, Allergy) and patient.no_known_allergies:
        # An allergy recorded now contradicts an earlier "no known allergies".
        patient.no_known_allergies = False
    await session.flush()
    await audit.record(
        session,
        action=f"{spec.noun}.added",
        actor=actor,
        resource_type=spec.noun,
        resource_id=entry.id,
        patient_id=patient.id,
        changes=audit.changes(None, audit.snapshot(entry)),
    )
    return entry


async def update_entry(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    kind: str,
    entry_id: uuid.UUID,
    data: BaseModel,
    expected_version: int | None,
) -> ChartRecord:
    spec = CHART_LISTS[kind]
    patient = await get_writable_patient(session, patient_id, actor=actor)
    _check_may_change(actor, kind)
    entry = await _get_entry(session, spec, patient.id, entry_id)
    check_version(entry, expected_version)
    before = audit.snapshot(entry)
    for field, value in (await _check_codes(session, data)).items():
        setattr(entry, field, value)
    if isinstance(entry, Allergy):
        await _refuse_duplicate_allergy(session, patient_id=patient.id, entry=entry)
    await session.flush()
    diff = audit.changes(before, audit.snapshot(entry))
    if diff:
        await audit.record(
            session,
            action=f"{spec.noun}.updated",
            actor=actor,
            resource_type=spec.noun,
            resource_id=entry.id,
            patient_id=patient.id,
            changes=diff,
        )
    return entry


async def remove_entry(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    kind: str,
    entry_id: uuid.UUID,
    expected_version: int | None,
) -> None:
    """For entries made in error (a resolved problem or a stopped medication changes
    status instead). The audit entry keeps what was removed."""
    spec = CHART_LISTS[kind]
    patient = await get_writable_patient(session, patient_id, actor=actor)
    _check_may_change(actor, kind)
    entry = await _get_entry(session, spec, patient.id, entry_id)
    check_version(entry, expected_version)
    before = audit.snapshot(entry)
    await session.delete(entry)
    await session.flush()
    await audit.record(
        session,
        action=f"{spec.noun}.removed",
        actor=actor,
        resource_type=spec.noun,
        resource_id=entry_id,
        patient_id=patient.id,
        changes=_removed(before),
    )


def _removed(before: dict[str, Any]) -> dict[str, Any]:
    skipped = {"id", "created_at", "updated_at", "version", "organization_id", "patient_id"}
    return {
        key: {"before": value, "after": None}
        for key, value in before.items()
        if key not in skipped and value is not None
    }
