"""JSON API of prescribing: the drug search, a consultation's prescriptions, one
prescription and its steps (discontinue, renew, change, entered in error), and the
safety checks alone.

Prescribing answers 409 ``safety-check`` with ``findings`` (each with its evidence, rule
and source) while the checks find something; the same request again with
``override_reason`` prescribes, and the override is audited with the findings.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from clinicdesk.clinical.access import ClinicalRead, Prescribe
from clinicdesk.clinical.models import Prescription
from clinicdesk.clinical.schemas.prescriptions import (
    CheckResult,
    DrugRead,
    FindingRead,
    PrescriptionChange,
    PrescriptionCheck,
    PrescriptionList,
    PrescriptionRead,
    PrescriptionRenew,
    PrescriptionStop,
    PrescriptionWrite,
)
from clinicdesk.clinical.service import drugs, prescriptions
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["prescriptions"])


def _answer(response: Response, rx: Prescription) -> PrescriptionRead:
    with_etag(response, rx.version)
    return PrescriptionRead.model_validate(rx)


@router.get("/drugs", response_model=list[DrugRead], summary="Search the drug vocabulary")
async def search_drugs(
    session: SessionDep,
    actor: ClinicalRead,
    q: Annotated[str, Query(min_length=2, max_length=100, description="Name or brand prefix")],
) -> list[DrugRead]:
    """Names, synonyms and brand names starting with ``q``; one line per drug."""
    return [
        DrugRead(
            id=m.drug.id,
            name=m.drug.name,
            matched=m.matched,
            is_brand=m.is_brand,
            drugbank_id=m.drug.drugbank_id,
            mesh_tree_numbers=m.drug.tree_numbers.split(),
        )
        for m in await drugs.search_drugs(session, q)
    ]


@router.get("/encounters/{encounter_id}/prescriptions", response_model=PrescriptionList)
async def list_encounter_prescriptions(
    encounter_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
) -> PrescriptionList:
    found = await prescriptions.list_for_encounter(session, encounter_id, actor=actor)
    return PrescriptionList(items=[PrescriptionRead.model_validate(p) for p in found])


@router.post(
    "/encounters/{encounter_id}/prescriptions",
    response_model=PrescriptionRead,
    status_code=201,
    summary="Prescribe (send Idempotency-Key to retry safely)",
    responses={409: {"description": "safety-check: findings to override, or a closed visit"}},
)
async def prescribe(
    encounter_id: uuid.UUID,
    session: SessionDep,
    actor: Prescribe,
    body: PrescriptionWrite,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create() -> PrescriptionRead:
        rx = await prescriptions.prescribe(
            session, actor=actor, encounter_id=encounter_id, data=body
        )
        return PrescriptionRead.model_validate(rx)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/encounters/{encounter_id}/prescriptions",
        body=body,
        create=create,
    )


@router.post("/prescriptions/check", response_model=CheckResult)
async def check_prescription(
    session: SessionDep, actor: Prescribe, body: PrescriptionCheck
) -> CheckResult:
    """The safety checks for a drug in a consultation, nothing prescribed."""
    outcome = await prescriptions.check(session, actor=actor, data=body)
    return CheckResult(
        drug=outcome.drug.label,
        coded=outcome.drug.coded,
        findings=[FindingRead.model_validate(f.as_dict()) for f in outcome.findings],
    )


@router.get("/prescriptions/{prescription_id}", response_model=PrescriptionRead)
async def read_prescription(
    prescription_id: uuid.UUID, response: Response, session: SessionDep, actor: ClinicalRead
) -> PrescriptionRead:
    rx = await prescriptions.get_prescription(session, prescription_id, actor=actor)
    return _answer(response, rx)


@router.post("/prescriptions/{prescription_id}/discontinue", response_model=PrescriptionRead)
async def discontinue_prescription(
    prescription_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: Prescribe,
    body: PrescriptionStop,
    if_match: IfMatch,
) -> PrescriptionRead:
    """Stop it (with the reason); its medication list entry is stopped too."""
    rx = await prescriptions.discontinue(
        session, actor=actor, prescription_id=prescription_id, data=body, expected_version=if_match
    )
    return _answer(response, rx)


@router.post("/prescriptions/{prescription_id}/entered-in-error", response_model=PrescriptionRead)
async def prescription_entered_in_error(
    prescription_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: Prescribe,
    body: PrescriptionStop,
    if_match: IfMatch,
) -> PrescriptionRead:
    rx = await prescriptions.mark_entered_in_error(
        session, actor=actor, prescription_id=prescription_id, data=body, expected_version=if_match
    )
    return _answer(response, rx)


@router.post(
    "/prescriptions/{prescription_id}/renew", response_model=PrescriptionRead, status_code=201
)
async def renew_prescription(
    prescription_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: Prescribe,
    body: PrescriptionRenew,
    if_match: IfMatch,
) -> PrescriptionRead:
    """The same prescription again in an open consultation (the checks run again); the
    old one, if active, is ended as renewed. Answers with the new prescription."""
    rx = await prescriptions.renew(
        session,
        actor=actor,
        prescription_id=prescription_id,
        encounter_id=body.encounter_id,
        override_reason=body.override_reason,
        expected_version=if_match,
    )
    return _answer(response, rx)


@router.post(
    "/prescriptions/{prescription_id}/change", response_model=PrescriptionRead, status_code=201
)
async def change_prescription(
    prescription_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: Prescribe,
    body: PrescriptionChange,
    if_match: IfMatch,
) -> PrescriptionRead:
    """Discontinue this one and prescribe ``new`` instead; answers with the new one."""
    rx = await prescriptions.change(
        session,
        actor=actor,
        prescription_id=prescription_id,
        encounter_id=body.encounter_id,
        data=body,
        expected_version=if_match,
    )
    return _answer(response, rx)
