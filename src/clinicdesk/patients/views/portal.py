"""The patient portal: a patient's own record, shared documents and who viewed it.
The record always comes from the signed-in actor, never from the URL."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from clinicdesk.core.actor import Actor
from clinicdesk.core.pages import render
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import PatientPortal
from clinicdesk.patients.access import PatientsConfigDep
from clinicdesk.patients.service import activity, chart, documents, records
from clinicdesk.patients.transfer import download_response
from clinicdesk.patients.views.common import form_values, me_of

router = APIRouter(include_in_schema=False)


def _own(actor: Actor) -> uuid.UUID:
    assert actor.patient_id is not None  # noqa: S101 - guaranteed by PatientPortal
    return actor.patient_id


@router.get("/portal", response_class=HTMLResponse)
async def portal_home(request: Request, session: SessionDep, actor: PatientPortal) -> HTMLResponse:
    patient = await records.read_patient(
        session, actor=actor, patient_id=_own(actor), view="portal"
    )
    allergies = await chart.active_allergies(session, patient_id=patient.id)
    medications = await chart.list_entries(
        session, actor=actor, patient_id=patient.id, kind="medications"
    )
    shared = await documents.list_documents(
        session, actor=actor, patient_id=patient.id, allowed_categories=None
    )
    viewed = await activity.viewers(session, actor=actor, patient_id=patient.id)
    return render(
        request,
        "patients/portal.html",
        {
            "patient": patient,
            "masked": form_values(patient, me_of(request).country),
            "allergies": allergies,
            "medications": medications,
            "documents": shared,
            "viewers": viewed.items,
        },
    )


@router.get("/portal/documents/{document_id}")
async def portal_download(
    document_id: uuid.UUID, session: SessionDep, actor: PatientPortal, config: PatientsConfigDep
) -> StreamingResponse:
    download = await documents.open_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=_own(actor),
        document_id=document_id,
        allowed_categories=None,
    )
    return download_response(download)
