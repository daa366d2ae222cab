"""Look-ups and rules the patient use cases share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.identity import public as identity
from clinicdesk.patients.errors import PatientNotFound, RecordMerged
from clinicdesk.patients.models import Patient
from clinicdesk.patients.policies import check_patient_access
from clinicdesk.patients.service import restricted

# A chain of merges is followed at most this far (A -> B -> C ...); merges refuse to
# create cycles, so this only bounds the work.
_MAX_MERGE_HOPS = 10


@dataclass(frozen=True, slots=True)
class Locale:
    """How the organization writes phone numbers and dates."""

    country: str
    date_format: str
    time_zone: str


async def organization_locale(session: AsyncSession) -> Locale:
    organization = await identity.get_organization(session)
    return Locale(
        country=organization.country,
        date_format=organization.date_format,
        time_zone=organization.time_zone,
    )


async def get_patient(
    session: AsyncSession, patient_id: uuid.UUID, *, actor: Actor, follow_merge: bool = True
) -> Patient:
    """The patient, following merge pointers to the kept record (old links still work).
    A restricted record is refused to staff outside its care team without a grant."""
    patient = await find_patient(session, patient_id, actor=actor, follow_merge=follow_merge)
    await restricted.check_restricted(session, actor=actor, patient=patient)
    return patient


async def find_patient(
    session: AsyncSession, patient_id: uuid.UUID, *, actor: Actor, follow_merge: bool = True
) -> Patient:
    """The patient whether or not it is restricted: only for the break-glass use case,
    which must reach the record it opens."""
    check_patient_access(actor, patient_id)
    patient = await session.get(Patient, patient_id)
    hops = 0
    while patient is not None and patient.merged_into_id is not None and follow_merge:
        hops += 1
        if hops > _MAX_MERGE_HOPS:
            break
        patient = await session.get(Patient, patient.merged_into_id)
    if patient is None:
        raise PatientNotFound("No patient with this id.")
    return patient


async def get_writable_patient(
    session: AsyncSession, patient_id: uuid.UUID, *, actor: Actor
) -> Patient:
    """The patient for a change: a merged record refuses writes and names the kept one."""
    patient = await get_patient(session, patient_id, actor=actor, follow_merge=False)
    if patient.merged_into_id is not None:
        kept = await get_patient(session, patient_id, actor=actor)
        raise RecordMerged(
            f"This record was merged into MRN {kept.mrn}. Make the change there.",
            kept_patient_id=str(kept.id),
        )
    return patient


async def patients_by_id(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, Patient]:
    if not ids:
        return {}
    rows = await session.scalars(select(Patient).where(Patient.id.in_(ids)))
    return {p.id: p for p in rows}


async def record_read(session: AsyncSession, *, actor: Actor, patient: Patient, what: str) -> None:
    """One audit entry per request that shows a patient's data (``what``: "chart",
    "demographics", "documents"...): the patient can later see who looked."""
    await audit.record_read(session, actor=actor, patient_id=patient.id, view=what)
