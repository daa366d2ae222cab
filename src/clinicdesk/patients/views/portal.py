"""The patient portal: a patient's own record, shared documents and who viewed it.
The record always comes from the signed-in actor, never from the URL."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse, StreamingResponse

from clinicdesk.core.actor import Actor
from clinicdesk.core.pages import render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import PatientPortal
from clinicdesk.patients.access import PatientsConfigDep
from clinicdesk.patients.service import documents, pages
from clinicdesk.patients.transfer import download_response
from clinicdesk.patients.views.common import form_values, me_of

router = APIRouter(include_in_schema=False)


def _own(actor: Actor) -> uuid.UUID:
    assert actor.patient_id is not None  # noqa: S101 - guaranteed by PatientPortal
    return actor.patient_id


@router.get("/portal", response_class=HTMLResponse)
async def portal_home(request: Request, session: SessionDep, actor: PatientPortal) -> HTMLResponse:
    page = await pages.portal_page(session, actor=actor, viewers=True)
    return render(
        request,
        "patients/portal.html",
        {
            "patient": page.patient,
            "masked": form_values(page.patient, me_of(request).country),
            "allergies": page.allergies,
            "medications": page.medications,
            "documents": page.documents,
            "viewers": page.viewers.items if page.viewers else [],
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
