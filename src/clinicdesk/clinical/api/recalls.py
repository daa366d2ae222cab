"""JSON API of a patient's recalls (planned follow-ups): list, add, cancel."""

from __future__ import annotations

import uuid

from fastapi import Response

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.schemas.recalls import RecallCancel, RecallRead, RecallWrite
from clinicdesk.clinical.service import recalls
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["recalls"])


@router.get("/patients/{patient_id}/recalls", response_model=list[RecallRead])
async def list_recalls(
    patient_id: uuid.UUID, session: SessionDep, actor: ClinicalRead, open_only: bool = False
) -> list[RecallRead]:
    """Soonest due first; ``open_only`` leaves out booked and cancelled ones."""
    rows = await recalls.list_recalls(
        session, actor=actor, patient_id=patient_id, open_only=open_only
    )
    return [RecallRead.model_validate(r) for r in rows]


@router.post("/patients/{patient_id}/recalls", response_model=RecallRead, status_code=201)
async def add_recall(
    patient_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: RecallWrite,
) -> RecallRead:
    """A date (``due_on``) or "in N weeks/months" (``in_count``, ``in_unit``); the note is
    for staff and never sent to the patient."""
    recall = await recalls.add_recall(session, actor=actor, patient_id=patient_id, data=body)
    with_etag(response, recall.version)
    return RecallRead.model_validate(recall)


@router.post("/recalls/{recall_id}/cancel", response_model=RecallRead)
async def cancel_recall(
    recall_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: RecallCancel,
    if_match: IfMatch,
) -> RecallRead:
    """409 when it is booked or cancelled already."""
    recall = await recalls.cancel_recall(
        session, actor=actor, recall_id=recall_id, data=body, expected_version=if_match
    )
    with_etag(response, recall.version)
    return RecallRead.model_validate(recall)
