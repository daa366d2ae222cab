"""The demo patients: the plan (``patient_plan``) written through the patients services,
with small generated PDFs and PNGs (``documents``) as their documents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.filetypes import HEAD_BYTES
from clinicdesk.core.storage import DocumentStorage
from clinicdesk.demo.documents import MAX_DOCUMENT_BYTES, document_content
from clinicdesk.demo.patient_plan import (
    DEMO_PATIENT_COUNT,
    PlannedPatient,
    plan_patients,
)
from clinicdesk.patients import policies
from clinicdesk.patients.models import Patient
from clinicdesk.patients.schemas import DocumentMeta, PatientUpdate, PayerWrite, PolicyWrite
from clinicdesk.patients.service import chart, documents, insurance, records
from clinicdesk.patients.service.documents import Upload


@dataclass(frozen=True, slots=True)
class DemoPatients:
    registered: int
    allergies: int
    medications: int
    problems: int
    history: int
    no_known_allergies: int
    policies: int
    documents: tuple[uuid.UUID, ...]
    near_duplicates: tuple[tuple[uuid.UUID, uuid.UUID], ...]  # (first, second) registration


async def _fill_chart(
    session: AsyncSession, *, clinician: Actor, patient: Patient, planned: PlannedPatient
) -> None:
    if planned.no_known_allergies:
        await records.update_patient(
            session,
            actor=clinician,
            patient_id=patient.id,
            data=PatientUpdate(**planned.data.model_dump(), no_known_allergies=True),
            expected_version=None,
        )
    entries = (
        ("allergies", planned.allergies),
        ("problems", planned.problems),
        ("medications", planned.medications),
        ("history", planned.history),
    )
    for kind, items in entries:
        for item in items:
            await chart.add_entry(
                session, actor=clinician, patient_id=patient.id, kind=kind, data=item
            )


async def _add_policies(
    session: AsyncSession,
    *,
    front_desk: Actor,
    billing: Actor,
    plan: list[PlannedPatient],
    patients: list[Patient],
) -> int:
    """Billing keeps the payer list; the front desk files each insured patient's card as
    their primary policy."""
    names = sorted({p.insurance.payer for p in plan if p.insurance is not None})
    payer_ids: dict[str, uuid.UUID] = {}
    for index, name in enumerate(names):
        payer = await insurance.add_payer(
            session, actor=billing, data=PayerWrite(name=name, code=f"P{index + 1:04d}")
        )
        payer_ids[name] = payer.id
    added = 0
    for planned, patient in zip(plan, patients, strict=True):
        if planned.insurance is None:
            continue
        await insurance.add_policy(
            session,
            actor=front_desk,
            patient_id=patient.id,
            data=PolicyWrite(
                payer_id=payer_ids[planned.insurance.payer],
                member_number=planned.insurance.member_number,
                plan_name=planned.insurance.plan_name,
            ),
        )
        added += 1
    return added


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def seed_demo_patients(
    session: AsyncSession,
    *,
    front_desk: Actor,
    clinician: Actor,
    billing: Actor,
    storage: DocumentStorage,
    count: int = DEMO_PATIENT_COUNT,
) -> DemoPatients:
    """Register the planned patients in the session's organization (the front desk), file
    the insured ones' policies (billing adds the payers), then fill in their charts and
    documents (the clinician; the front desk scans the cards)."""
    plan = plan_patients(count)
    patients = [
        await records.register_patient(session, actor=front_desk, data=planned.data)
        for planned in plan
    ]
    policy_count = await _add_policies(
        session, front_desk=front_desk, billing=billing, plan=plan, patients=patients
    )
    document_ids: list[uuid.UUID] = []
    for planned, patient in zip(plan, patients, strict=True):
        await _fill_chart(session, clinician=clinician, patient=patient, planned=planned)
        for document in planned.documents:
            content = document_content(document, patient)
            demographic = document.category in policies.DEMOGRAPHIC_CATEGORIES
            uploader = front_desk if demographic else clinician
            stored = await documents.upload_document(
                session,
                actor=uploader,
                storage=storage,
                patient_id=patient.id,
                upload=Upload(document.filename, content[:HEAD_BYTES], _once(content)),
                meta=DocumentMeta(title=document.title, category=document.category),
                max_bytes=MAX_DOCUMENT_BYTES,
                allowed_categories=policies.writable_categories(uploader),
            )
            document_ids.append(stored.id)
    return DemoPatients(
        registered=len(patients),
        allergies=sum(len(p.allergies) for p in plan),
        medications=sum(len(p.medications) for p in plan),
        problems=sum(len(p.problems) for p in plan),
        history=sum(len(p.history) for p in plan),
        no_known_allergies=sum(p.no_known_allergies for p in plan),
        policies=policy_count,
        documents=tuple(document_ids),
        near_duplicates=tuple(
            (patients[p.duplicate_of].id, patients[index].id)
            for index, p in enumerate(plan)
            if p.duplicate_of is not None
        ),
    )
