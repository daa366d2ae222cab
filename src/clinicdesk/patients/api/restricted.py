"""JSON API of restricted records: restricting a record, a clinician's emergency
("break-glass") access, and the admins' report of every emergency access."""

from __future__ import annotations

import uuid

from fastapi import status

from clinicdesk.audit.web import AuditRead
from clinicdesk.core.http import IfMatch
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients import schemas
from clinicdesk.patients.access import ClinicalRead, ClinicalWrite, PatientsConfigDep
from clinicdesk.patients.service import records, restricted

router = APIRouter(prefix="/api/v1", tags=["patients"])


@router.put(
    "/patients/{patient_id}/restriction",
    response_model=schemas.PatientRead,
    summary="Restrict a record to its care team, or open it again",
)
async def set_restriction(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: schemas.RestrictionWrite,
    if_match: IfMatch,
) -> schemas.PatientRead:
    """The clinician who restricts the record joins its care team. ``If-Match``: the
    patient's ETag (``*`` to restrict whatever the record's version)."""
    patient = await records.restrict_record(
        session,
        actor=actor,
        patient_id=patient_id,
        restricted_=body.restricted,
        expected_version=if_match,
    )
    return records.to_read(patient)


@router.post(
    "/patients/{patient_id}/emergency-access",
    response_model=schemas.EmergencyAccessGrant,
    status_code=status.HTTP_201_CREATED,
    summary="Break the glass: time-limited access to a restricted record (audited)",
)
async def emergency_access(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalRead,
    config: PatientsConfigDep,
    body: schemas.EmergencyAccessRequest,
) -> schemas.EmergencyAccessGrant:
    """For doctors and nurses, with a reason of at least 15 characters. The access lasts
    ``CLINICDESK_BREAK_GLASS_MINUTES``; it and every read under it are on the trail."""
    grant = await records.open_in_emergency(
        session,
        actor=actor,
        patient_id=patient_id,
        reason=body.reason,
        minutes=config.break_glass_minutes,
    )
    return schemas.EmergencyAccessGrant.model_validate(grant)


@router.get(
    "/emergency-access",
    response_model=schemas.EmergencyAccessPage,
    summary="Every emergency access (administrators)",
)
async def emergency_access_report(
    session: SessionDep, actor: AuditRead, cursor: str | None = None
) -> schemas.EmergencyAccessPage:
    page = await restricted.break_glass_report(session, actor=actor, cursor=cursor)
    return schemas.EmergencyAccessPage(
        items=[schemas.EmergencyAccessUse.model_validate(u) for u in page.items],
        next_cursor=page.next_cursor,
    )
