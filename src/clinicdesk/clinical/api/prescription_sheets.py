"""JSON API of printed prescriptions: print a consultation's active prescriptions."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import Request
from pydantic import BaseModel

from clinicdesk.clinical.access import Prescribe
from clinicdesk.clinical.service import prescription_sheets
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["prescriptions"])


class PrescriptionSheetRead(BaseModel):
    id: uuid.UUID
    encounter_id: uuid.UUID
    code: str
    issued_at: datetime
    prescription_ids: list[uuid.UUID]
    pdf_url: str
    verify_url: str


@router.post(
    "/encounters/{encounter_id}/prescription-sheets",
    response_model=PrescriptionSheetRead,
    status_code=201,
)
async def print_prescriptions(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: Prescribe
) -> PrescriptionSheetRead:
    """A new printed sheet of the consultation's active prescriptions (409 when there
    is none); earlier sheets of the consultation become "replaced" on the verification
    page. ``pdf_url`` is the sheet to print; ``verify_url`` what its QR code opens."""
    printed = await prescription_sheets.issue_sheet(session, actor=actor, encounter_id=encounter_id)
    base = str(request.base_url).rstrip("/")
    sheet = printed.sheet
    return PrescriptionSheetRead(
        id=sheet.id,
        encounter_id=sheet.encounter_id,
        code=sheet.code,
        issued_at=sheet.issued_at,
        prescription_ids=[uuid.UUID(str(i)) for i in sheet.prescription_ids],
        pdf_url=f"{base}/prescription-sheets/{sheet.id}.pdf",
        verify_url=f"{base}/rx/{sheet.code}",
    )
