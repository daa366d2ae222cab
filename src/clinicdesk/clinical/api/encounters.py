"""JSON API of encounters: open a consultation, read one or a patient's list, change its
reason, finish or cancel it."""

from __future__ import annotations

import uuid

from fastapi import Response
from fastapi.responses import JSONResponse

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.schemas.encounters import (
    EncounterCancel,
    EncounterList,
    EncounterRead,
    EncounterReason,
    EncounterStart,
)
from clinicdesk.clinical.service import cancelling, closing, encounters
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["encounters"])


def _answer(response: Response, encounter: Encounter) -> EncounterRead:
    with_etag(response, encounter.version)
    return EncounterRead.model_validate(encounter)


@router.post(
    "/encounters",
    response_model=EncounterRead,
    status_code=201,
    summary="Open a consultation (send Idempotency-Key to retry safely)",
)
async def start_encounter(
    session: SessionDep,
    actor: ClinicalWrite,
    body: EncounterStart,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """By the signed-in provider (403 `not-a-provider` for an account that is not one).
    A consultation from the queue opens by itself when the visit starts."""

    async def create() -> EncounterRead:
        encounter = await encounters.start_encounter(session, actor=actor, data=body)
        return EncounterRead.model_validate(encounter)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/encounters",
        body=body,
        create=create,
    )


@router.get("/encounters/{encounter_id}", response_model=EncounterRead)
async def read_encounter(
    encounter_id: uuid.UUID, response: Response, session: SessionDep, actor: ClinicalRead
) -> EncounterRead:
    return _answer(response, await encounters.get_encounter(session, encounter_id, actor=actor))


@router.get("/patients/{patient_id}/encounters", response_model=EncounterList)
async def list_patient_encounters(
    patient_id: uuid.UUID, session: SessionDep, actor: ClinicalRead, cursor: str | None = None
) -> EncounterList:
    """The patient's consultations, newest first, 20 a page."""
    page = await encounters.list_for_patient(
        session, actor=actor, patient_id=patient_id, cursor=cursor
    )
    return EncounterList(
        items=[EncounterRead.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.patch("/encounters/{encounter_id}", response_model=EncounterRead)
async def change_encounter_reason(
    encounter_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: EncounterReason,
    if_match: IfMatch,
) -> EncounterRead:
    encounter = await encounters.change_reason(
        session,
        actor=actor,
        encounter_id=encounter_id,
        reason=body.reason,
        expected_version=if_match,
    )
    return _answer(response, encounter)


@router.post("/encounters/{encounter_id}/finish", response_model=EncounterRead)
async def finish_encounter(
    encounter_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    if_match: IfMatch,
) -> EncounterRead:
    """409 ``encounter-step-refused`` with ``undone`` (what is left to do, e.g. the note
    is not signed) while the consultation cannot finish."""
    encounter = await closing.finish_encounter(
        session, actor=actor, encounter_id=encounter_id, expected_version=if_match
    )
    return _answer(response, encounter)


@router.post("/encounters/{encounter_id}/cancel", response_model=EncounterRead)
async def cancel_encounter(
    encounter_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: EncounterCancel,
    if_match: IfMatch,
) -> EncounterRead:
    """Cancel an open consultation, or (``entered_in_error``) mark any consultation as
    one that should never have existed. Nothing is deleted."""
    encounter = await cancelling.cancel_consultation(
        session, actor=actor, encounter_id=encounter_id, data=body, expected_version=if_match
    )
    return _answer(response, encounter)
