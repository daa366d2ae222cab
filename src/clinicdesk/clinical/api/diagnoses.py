"""JSON API of an encounter's diagnoses: list and add, rank or note one, mark one
entered in error, put one on the problem list."""

from __future__ import annotations

import uuid

from fastapi import Response
from fastapi.responses import JSONResponse

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.schemas.diagnoses import (
    DiagnosisChange,
    DiagnosisError,
    DiagnosisRead,
    DiagnosisWrite,
    ProblemAdded,
)
from clinicdesk.clinical.service import diagnoses
from clinicdesk.clinical.service.diagnoses import DiagnosisView
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["diagnoses"])


def read(view: DiagnosisView) -> DiagnosisRead:
    d = view.diagnosis
    return DiagnosisRead(
        id=d.id,
        encounter_id=d.encounter_id,
        patient_id=d.patient_id,
        icd10_code=d.icd10_code,
        description=d.description,
        coded=d.icd10_code is not None,
        rank=d.rank,  # type: ignore[arg-type]
        note=d.note,
        status=d.status,  # type: ignore[arg-type]
        error_reason=d.error_reason,
        chronic_condition=view.chronic_condition,
        on_problem_list=view.on_problem_list,
        offer_problem_list=view.offer_problem_list,
        created_at=d.created_at,
        version=d.version,
    )


@router.get("/encounters/{encounter_id}/diagnoses", response_model=list[DiagnosisRead])
async def list_diagnoses(
    encounter_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
) -> list[DiagnosisRead]:
    """Primary first; entered-in-error ones last (kept, marked)."""
    views = await diagnoses.list_diagnoses(session, actor=actor, encounter_id=encounter_id)
    return [read(v) for v in views]


@router.post(
    "/encounters/{encounter_id}/diagnoses",
    response_model=DiagnosisRead,
    status_code=201,
    summary="Add a diagnosis (send Idempotency-Key to retry safely)",
)
async def add_diagnosis(
    encounter_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: DiagnosisWrite,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """422 for a code that is not ICD-10-CM; 409 when the consultation is closed or
    already has the code. A new primary makes the previous primary secondary."""

    async def create() -> DiagnosisRead:
        diagnosis = await diagnoses.add_diagnosis(
            session, actor=actor, encounter_id=encounter_id, data=body
        )
        return read(await diagnoses.view_of(session, actor=actor, diagnosis=diagnosis))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/encounters/{encounter_id}/diagnoses",
        body=body,
        create=create,
    )


@router.get("/diagnoses/{diagnosis_id}", response_model=DiagnosisRead)
async def read_diagnosis(
    diagnosis_id: uuid.UUID, response: Response, session: SessionDep, actor: ClinicalRead
) -> DiagnosisRead:
    diagnosis = await diagnoses.get_diagnosis(session, diagnosis_id, actor=actor)
    with_etag(response, diagnosis.version)
    return read(await diagnoses.view_of(session, actor=actor, diagnosis=diagnosis))


@router.patch("/diagnoses/{diagnosis_id}", response_model=DiagnosisRead)
async def change_diagnosis(
    diagnosis_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: DiagnosisChange,
    if_match: IfMatch,
) -> DiagnosisRead:
    diagnosis = await diagnoses.change_diagnosis(
        session, actor=actor, diagnosis_id=diagnosis_id, data=body, expected_version=if_match
    )
    with_etag(response, diagnosis.version)
    return read(await diagnoses.view_of(session, actor=actor, diagnosis=diagnosis))


@router.post("/diagnoses/{diagnosis_id}/entered-in-error", response_model=DiagnosisRead)
async def mark_entered_in_error(
    diagnosis_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: DiagnosisError,
    if_match: IfMatch,
) -> DiagnosisRead:
    diagnosis = await diagnoses.mark_entered_in_error(
        session, actor=actor, diagnosis_id=diagnosis_id, data=body, expected_version=if_match
    )
    with_etag(response, diagnosis.version)
    return read(await diagnoses.view_of(session, actor=actor, diagnosis=diagnosis))


@router.post("/diagnoses/{diagnosis_id}/problem", response_model=ProblemAdded, status_code=201)
async def add_to_problem_list(
    diagnosis_id: uuid.UUID, session: SessionDep, actor: ClinicalWrite
) -> ProblemAdded:
    """Put the diagnosis on the patient's problem list (409 if it is there already)."""
    problem = await diagnoses.add_to_problem_list(session, actor=actor, diagnosis_id=diagnosis_id)
    return ProblemAdded(
        problem_id=problem.id, description=problem.description, icd10_code=problem.icd10_code
    )
