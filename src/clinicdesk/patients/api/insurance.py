"""JSON API of payers and patients' insurance policies (``service/insurance.py`` holds
the rules: one open policy per priority for any day, ending never deletes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response, status

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients import schemas
from clinicdesk.patients.access import PatientsRead
from clinicdesk.patients.service import insurance

router = APIRouter(prefix="/api/v1", tags=["insurance"])

PayersRead = Annotated[Actor, Depends(require(Permission.ORGANIZATION_READ))]
PayersManage = Annotated[Actor, Depends(require(Permission.PAYERS_MANAGE))]
PoliciesWrite = Annotated[Actor, Depends(require(Permission.PATIENTS_INSURANCE))]


# --- payers -------------------------------------------------------------------------------


@router.get("/payers", response_model=list[schemas.PayerRead], summary="The clinic's payers")
async def list_payers(
    session: SessionDep,
    actor: PayersRead,
    include_inactive: Annotated[bool, Query()] = False,
) -> list[schemas.PayerRead]:
    """By name; inactive payers (no longer offered for new policies) only when asked."""
    payers = await insurance.list_payers(session, include_inactive=include_inactive)
    return [schemas.PayerRead.model_validate(p) for p in payers]


@router.post(
    "/payers",
    response_model=schemas.PayerRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a payer",
)
async def add_payer(
    response: Response, session: SessionDep, actor: PayersManage, body: schemas.PayerWrite
) -> schemas.PayerRead:
    payer = await insurance.add_payer(session, actor=actor, data=body)
    with_etag(response, payer.version)
    response.headers["Location"] = f"/api/v1/payers/{payer.id}"
    return schemas.PayerRead.model_validate(payer)


@router.get("/payers/{payer_id}", response_model=schemas.PayerRead)
async def read_payer(
    payer_id: uuid.UUID, response: Response, session: SessionDep, actor: PayersRead
) -> schemas.PayerRead:
    payer = await insurance.get_payer(session, payer_id)
    with_etag(response, payer.version)
    return schemas.PayerRead.model_validate(payer)


@router.put("/payers/{payer_id}", response_model=schemas.PayerRead, summary="Change a payer")
async def update_payer(
    payer_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PayersManage,
    body: schemas.PayerWrite,
    if_match: IfMatch,
) -> schemas.PayerRead:
    """Full replacement; ``active: false`` retires the payer. Send ``If-Match``."""
    payer = await insurance.update_payer(
        session, actor=actor, payer_id=payer_id, data=body, expected_version=if_match
    )
    with_etag(response, payer.version)
    return schemas.PayerRead.model_validate(payer)


# --- policies -----------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/insurance-policies",
    response_model=list[schemas.PolicyRead],
    summary="A patient's insurance policies (open first, primary first)",
)
async def list_policies(
    patient_id: uuid.UUID, session: SessionDep, actor: PatientsRead
) -> list[schemas.PolicyRead]:
    return await insurance.list_policies(session, actor=actor, patient_id=patient_id)


@router.post(
    "/patients/{patient_id}/insurance-policies",
    response_model=schemas.PolicyRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add an insurance policy",
)
async def add_policy(
    patient_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PoliciesWrite,
    body: schemas.PolicyWrite,
) -> schemas.PolicyRead:
    """409 when an open policy of the same priority already covers any of its days."""
    policy = await insurance.add_policy(session, actor=actor, patient_id=patient_id, data=body)
    with_etag(response, policy.version)
    return policy


@router.put(
    "/patients/{patient_id}/insurance-policies/{policy_id}",
    response_model=schemas.PolicyRead,
    summary="Change an insurance policy",
)
async def update_policy(
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PoliciesWrite,
    body: schemas.PolicyWrite,
    if_match: IfMatch,
) -> schemas.PolicyRead:
    """Full replacement (a missing member number keeps the one on file). Send
    ``If-Match``: a policy changed since gets 412; an ended policy gets 409."""
    policy = await insurance.update_policy(
        session,
        actor=actor,
        patient_id=patient_id,
        policy_id=policy_id,
        data=body,
        expected_version=if_match,
    )
    with_etag(response, policy.version)
    return policy


@router.post(
    "/patients/{patient_id}/insurance-policies/{policy_id}/end",
    response_model=schemas.PolicyRead,
    summary="End an insurance policy (it is kept, with its history)",
)
async def end_policy(
    patient_id: uuid.UUID,
    policy_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PoliciesWrite,
    body: schemas.PolicyEnd,
    if_match: IfMatch,
) -> schemas.PolicyRead:
    policy = await insurance.end_policy(
        session,
        actor=actor,
        patient_id=patient_id,
        policy_id=policy_id,
        data=body,
        expected_version=if_match,
    )
    with_etag(response, policy.version)
    return policy


@router.post(
    "/patients/{patient_id}/insurance-policies/{policy_id}/member-number/reveal",
    response_model=schemas.IdentifierReveal,
    summary="Show a policy's member number in clear (audited)",
)
async def reveal_member_number(
    patient_id: uuid.UUID, policy_id: uuid.UUID, session: SessionDep, actor: PatientsRead
) -> schemas.IdentifierReveal:
    value = await insurance.reveal_member_number(
        session, actor=actor, patient_id=patient_id, policy_id=policy_id
    )
    return schemas.IdentifierReveal(field="member_number", value=value)
