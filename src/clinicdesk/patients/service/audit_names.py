"""Patients and their documents named for the audit report (``audit.subjects``). The
names are patient data: showing them is recorded as a read, like any list of patients."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.patients.models import Document, Patient
from clinicdesk.patients.service.common import patients_by_id


def _patient_subject(patient: Patient) -> audit.Subject:
    # A restricted record's name is itself sensitive: the report names it by MRN only.
    name = (
        f"Restricted record · MRN {patient.mrn}"
        if patient.restricted
        else f"{patient.display_name} · MRN {patient.mrn}"
    )
    return audit.Subject(name=name, href=f"/patients/{patient.id}")


async def name_patients(
    session: AsyncSession, actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    found = await patients_by_id(session, ids)
    await audit.record_list_read(
        session,
        actor=actor,
        patient_ids=[p.id for p in found.values() if not p.restricted],
        view="audit_report",
    )
    return {patient_id: _patient_subject(p) for patient_id, p in found.items()}


async def name_documents(
    session: AsyncSession, _actor: Actor, ids: set[uuid.UUID]
) -> dict[uuid.UUID, audit.Subject]:
    rows = await session.execute(
        select(Document.id, Document.title, Document.patient_id).where(Document.id.in_(ids))
    )
    return {
        row.id: audit.Subject(
            name=f"Document “{row.title}”", href=f"/patients/{row.patient_id}#documents"
        )
        for row in rows
    }


def register() -> None:
    audit.register_namer("patient", name_patients)
    audit.register_namer("document", name_documents)
