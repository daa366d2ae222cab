"""JSON API of vital signs: record a set in a consultation or outside one, list a
patient's observations (of one LOINC code), mark one entered in error."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.access import ClinicalRead, VitalsWrite
from clinicdesk.clinical.kernel.units import UnitSystem, rounded
from clinicdesk.clinical.kernel.vital_ranges import BY_CODE
from clinicdesk.clinical.models import Observation
from clinicdesk.clinical.schemas.vitals import (
    EnteredInError,
    ObservationList,
    ObservationRead,
    VitalsRecord,
    VitalsSetRead,
)
from clinicdesk.clinical.service import vitals
from clinicdesk.core.actor import Actor
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["vitals"])


def observation_read(row: Observation, system: UnitSystem) -> ObservationRead:
    vital = BY_CODE[row.code]
    return ObservationRead.model_validate(
        {
            "id": row.id,
            "patient_id": row.patient_id,
            "encounter_id": row.encounter_id,
            "set_id": row.set_id,
            "code": row.code,
            "kind": vital.key,
            "value": rounded(row.value, vital.places),
            "unit": row.unit,
            "shown": vital.text(row.value, system),
            "interpretation": row.interpretation,
            "effective_at": row.effective_at,
            "status": row.status,
            "error_reason": row.error_reason,
            "recorded_by_id": row.recorded_by_id,
            "version": row.version,
        }
    )


async def _create(
    session: AsyncSession,
    actor: Actor,
    body: VitalsRecord,
    key: str | None,
    operation: str,
    *,
    encounter_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> JSONResponse:
    async def create() -> VitalsSetRead:
        found = await vitals.record_vitals(
            session, actor=actor, data=body, encounter_id=encounter_id, patient_id=patient_id
        )
        system = await vitals.unit_system(session)
        return VitalsSetRead(
            set_id=found.set_id,
            patient_id=found.patient_id,
            encounter_id=found.encounter_id,
            effective_at=found.effective_at,
            observations=[observation_read(o, system) for o in found.observations],
        )

    return await created_once(
        session, key=key, user_id=actor.user_id, operation=operation, body=body, create=create
    )


@router.post(
    "/encounters/{encounter_id}/vitals",
    response_model=VitalsSetRead,
    status_code=201,
    summary="Record vital signs in an open consultation (send Idempotency-Key to retry)",
)
async def record_in_encounter(
    encounter_id: uuid.UUID,
    session: SessionDep,
    actor: VitalsWrite,
    body: VitalsRecord,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """422 ``vitals-refused`` with the valid range per field for an impossible value
    (nothing is stored); 409 when the consultation is closed."""
    operation = f"POST /api/v1/encounters/{encounter_id}/vitals"
    return await _create(
        session, actor, body, idempotency_key, operation, encounter_id=encounter_id
    )


@router.post(
    "/patients/{patient_id}/vitals",
    response_model=VitalsSetRead,
    status_code=201,
    summary="Record vital signs outside a consultation (send Idempotency-Key to retry)",
)
async def record_for_patient(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: VitalsWrite,
    body: VitalsRecord,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A nurse's measurement without a consultation (a blood pressure check)."""
    operation = f"POST /api/v1/patients/{patient_id}/vitals"
    return await _create(session, actor, body, idempotency_key, operation, patient_id=patient_id)


@router.get("/patients/{patient_id}/observations", response_model=ObservationList)
async def list_observations(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalRead,
    code: Annotated[str | None, Query(max_length=16, description="A LOINC code")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=vitals.SERIES_LIMIT)] = 50,
) -> ObservationList:
    """The patient's vital-sign observations, newest first (entered-in-error ones with
    their status), of one ``code`` or all."""
    page = await vitals.list_observations(
        session, actor=actor, patient_id=patient_id, code=code, cursor=cursor, limit=limit
    )
    system = await vitals.unit_system(session)
    return ObservationList(
        items=[observation_read(o, system) for o in page.items], next_cursor=page.next_cursor
    )


@router.post("/observations/{observation_id}/entered-in-error", response_model=ObservationRead)
async def mark_entered_in_error(
    observation_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: VitalsWrite,
    body: EnteredInError,
    if_match: IfMatch,
) -> ObservationRead:
    """Nothing is deleted: the observation keeps its value with the status and reason.
    A blood pressure's other number, and a BMI computed from this height or weight, are
    marked with it."""
    marked = await vitals.mark_entered_in_error(
        session,
        actor=actor,
        observation_id=observation_id,
        reason=body.reason or "",
        expected_version=if_match,
    )
    with_etag(response, marked[0].version)
    return observation_read(marked[0], await vitals.unit_system(session))
