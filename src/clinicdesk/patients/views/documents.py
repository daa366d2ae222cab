"""Documents on the chart: upload (errors shown on the chart, not as an error page),
download as an attachment, the chart photo inline, and soft delete with a reason."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.patients.access import (
    PatientsConfigDep,
    PatientsRead,
    PatientsWrite,
)
from clinicdesk.patients.errors import DocumentNotFound
from clinicdesk.patients.policies import readable_categories, writable_categories
from clinicdesk.patients.schemas import DocumentDelete, DocumentMeta
from clinicdesk.patients.service import documents
from clinicdesk.patients.service.common import get_writable_patient
from clinicdesk.patients.transfer import download_response, upload_from

router = APIRouter(include_in_schema=False)


@router.post("/patients/{patient_id}/documents")
async def upload_document(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    config: PatientsConfigDep,
    file: Annotated[UploadFile | None, File()] = None,
    title: Annotated[str, Form(max_length=200)] = "",
    category: Annotated[str, Form(max_length=32)] = "other",
    shared_with_patient: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    patient = await get_writable_patient(session, patient_id, actor=actor)
    response = redirect(f"/patients/{patient.id}#documents")
    if file is None or not file.filename:
        flash(request, response, "Choose a file to upload.", "error")
        return response
    try:
        meta = parse_form(
            DocumentMeta,
            {
                "title": title,
                "category": category,
                "shared_with_patient": shared_with_patient == "1",
            },
        )
    except FormInvalid as error:
        message = error.first_message
        flash(request, response, f"The document was not uploaded: {message}", "error")
        return response
    try:
        async with all_or_nothing(session):
            document = await documents.upload_document(
                session,
                actor=actor,
                storage=config.storage,
                patient_id=patient.id,
                upload=await upload_from(file),
                meta=meta,
                max_bytes=config.upload_max_bytes,
                allowed_categories=writable_categories(actor),
            )
    except ClinicError as error:
        if isinstance(error, DocumentNotFound):
            message = "Your role cannot upload this kind of document; choose another category."
        else:
            message = error.detail
        flash(request, response, f"The document was not uploaded. {message}", "error")
        return response
    flash(request, response, f"“{document.title}” uploaded.")
    return response


@router.get("/patients/{patient_id}/documents/{document_id}")
async def download_document(
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsRead,
    config: PatientsConfigDep,
) -> StreamingResponse:
    download = await documents.open_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=patient_id,
        document_id=document_id,
        allowed_categories=readable_categories(actor),
    )
    return download_response(download)


@router.get("/patients/{patient_id}/photo/{document_id}")
async def patient_photo(
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsRead,
    config: PatientsConfigDep,
) -> StreamingResponse:
    """The chart header's photo, inline; part of viewing the chart, so not audited apart."""
    download = await documents.open_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=patient_id,
        document_id=document_id,
        allowed_categories=readable_categories(actor),
        audited=False,
    )
    if not download.document.content_type.startswith("image/"):
        raise DocumentNotFound("No photo with this id on this chart.")
    return download_response(download, inline=True)


@router.post("/patients/{patient_id}/documents/{document_id}/delete")
async def delete_document(
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: PatientsWrite,
    version: FormVersion,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    patient = await get_writable_patient(session, patient_id, actor=actor)
    response = redirect(f"/patients/{patient.id}#documents")
    try:
        checked = parse_form(DocumentDelete, {"reason": reason}).reason
    except FormInvalid:
        await documents.list_documents(  # a document of another chart is a 404, not a message
            session, actor=actor, patient_id=patient.id, allowed_categories=None
        )
        flash(
            request, response, "Say why the document is deleted (at least 3 characters).", "error"
        )
        return response
    try:
        async with all_or_nothing(session):
            await documents.delete_document(
                session,
                actor=actor,
                patient_id=patient.id,
                document_id=document_id,
                reason=checked,
                expected_version=version,
                allowed_categories=writable_categories(actor),
            )
    except ClinicError as error:
        if error.status_code == 404:
            raise
        flash(request, response, error.detail, "error")
        return response
    flash(request, response, "Document deleted; it is kept in the records archive.")
    return response
