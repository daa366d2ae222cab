"""JSON API of the patients domain: records, search, duplicates, merge, chart lists,
documents, portal invitations, and the portal's own read-only view."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import File, Form, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.pagination import MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import IdentityConfigDep, PatientPortal
from clinicdesk.patients import schemas
from clinicdesk.patients.access import (
    ClinicalRead,
    PatientsConfigDep,
    PatientsRead,
    PatientsWrite,
    actor_needing,
)
from clinicdesk.patients.policies import readable_categories, sees_clinical, writable_categories
from clinicdesk.patients.service import (
    activity,
    chart,
    documents,
    duplicates,
    icd10,
    merge,
    pages,
    records,
    search,
)
from clinicdesk.patients.transfer import DOWNLOAD_RESPONSES, download_response, upload_from
from clinicdesk.patients.vocabulary import DocumentCategory

router = APIRouter(prefix="/api/v1", tags=["patients"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
READS: dict[str, type[BaseModel]] = {
    "allergies": schemas.AllergyRead,
    "medications": schemas.MedicationRead,
    "problems": schemas.ProblemRead,
    "history": schemas.HistoryRead,
}


# --- records, search, duplicates ------------------------------------------------------


@router.get("/patients", response_model=schemas.SearchPage, summary="Search or list patients")
async def search_patients(
    session: SessionDep,
    actor: PatientsRead,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Limit = 20,
    cursor: str | None = None,
) -> schemas.SearchPage:
    """Name (typos, accents and order forgiven), phone in any format, date of birth in
    the organization's format, MRN or exact national ID. Without ``q``: newest first."""
    result = await search.search_patients(session, actor=actor, text=q, limit=limit, cursor=cursor)
    return schemas.SearchPage(
        items=[
            schemas.SearchHit.model_validate(
                {
                    **schemas.PatientSummary.model_validate(h.patient).model_dump(),
                    "score": h.score,
                    "matched_on": h.matched_on,
                }
            )
            for h in result.hits
        ],
        next_cursor=result.next_cursor,
    )


def _candidates(found: list[duplicates.Duplicate]) -> list[schemas.DuplicateCandidate]:
    return [
        schemas.DuplicateCandidate(
            patient=schemas.PatientSummary.model_validate(d.patient),
            score=round(d.match.score, 3),
            likely=d.match.likely,
            reasons=[schemas.MatchReasonRead(code=r.code, label=r.label) for r in d.match.reasons],
        )
        for d in found
    ]


@router.post(
    "/patients/duplicate-check",
    response_model=list[schemas.DuplicateCandidate],
    summary="Likely duplicates of a person about to be registered",
)
async def check_duplicates(
    session: SessionDep, actor: PatientsRead, body: schemas.PatientCreate
) -> list[schemas.DuplicateCandidate]:
    facts = await duplicates.facts_of_registration(session, body)
    return _candidates(await duplicates.find_duplicates(session, facts))


@router.post(
    "/patients",
    response_model=schemas.PatientRead,
    status_code=status.HTTP_201_CREATED,
    summary="Register a patient",
)
async def register_patient(
    response: Response, session: SessionDep, actor: PatientsWrite, body: schemas.PatientCreate
) -> schemas.PatientRead:
    patient = await records.register_patient(session, actor=actor, data=body)
    with_etag(response, patient.version)
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    return records.to_read(patient)


@router.get("/patients/{patient_id}", response_model=schemas.PatientRead)
async def read_patient(
    patient_id: uuid.UUID, response: Response, session: SessionDep, actor: PatientsRead
) -> schemas.PatientRead:
    """A merged record answers with the record it was merged into."""
    patient = await records.read_patient(session, actor=actor, patient_id=patient_id)
    with_etag(response, patient.version)
    return records.to_read(patient)


@router.put("/patients/{patient_id}", response_model=schemas.PatientRead)
async def update_patient(
    patient_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PatientsWrite,
    body: schemas.PatientUpdate,
    if_match: IfMatch,
) -> schemas.PatientRead:
    """Replace the demographics. Send ``If-Match`` with the ETag you read: a record
    changed since gets 412."""
    patient = await records.update_patient(
        session,
        actor=actor,
        patient_id=patient_id,
        data=body,
        expected_version=if_match,
    )
    with_etag(response, patient.version)
    return records.to_read(patient)


@router.post(
    "/patients/{patient_id}/identifiers/{field}/reveal",
    response_model=schemas.IdentifierReveal,
    summary="Show an encrypted identifier in clear (audited)",
)
async def reveal_identifier(
    patient_id: uuid.UUID,
    field: Literal["national_id"],
    session: SessionDep,
    actor: PatientsRead,
) -> schemas.IdentifierReveal:
    value = await records.reveal_identifier(
        session, actor=actor, patient_id=patient_id, field=field
    )
    return schemas.IdentifierReveal(field=field, value=value)


@router.get("/patients/{patient_id}/duplicates", response_model=list[schemas.DuplicateCandidate])
async def patient_duplicates(
    patient_id: uuid.UUID, session: SessionDep, actor: PatientsRead
) -> list[schemas.DuplicateCandidate]:
    patient = await records.read_patient(
        session, actor=actor, patient_id=patient_id, view="duplicates"
    )
    found = await duplicates.find_duplicates(
        session, duplicates.facts_of_patient(patient), exclude=patient.id
    )
    return _candidates(found)


@router.post("/patients/{patient_id}/merge", response_model=schemas.MergeResult)
async def merge_patients(
    patient_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: PatientsWrite,
    body: schemas.MergeRequest,
    if_match: IfMatch,
) -> schemas.MergeResult:
    """Merge ``duplicate_id`` into this patient, which is kept. Everything linked to the
    duplicate moves here; the duplicate's id keeps resolving to this record."""
    merged = await merge.merge_patients(
        session,
        actor=actor,
        keep_id=patient_id,
        duplicate_id=body.duplicate_id,
        reason=body.reason,
        expected_version=if_match,
        take_from_duplicate=body.take_from_duplicate,
    )
    with_etag(response, merged.kept.version)
    return schemas.MergeResult(
        kept=records.to_read(merged.kept), merged_id=body.duplicate_id, moved=merged.moved
    )


@router.get("/patients/{patient_id}/changes", summary="Who changed what on this chart")
async def chart_changes(
    patient_id: uuid.UUID, session: SessionDep, actor: ClinicalRead, cursor: str | None = None
) -> schemas.ChartChangesPage:
    page = await activity.chart_history(session, actor=actor, patient_id=patient_id, cursor=cursor)
    return schemas.ChartChangesPage(
        items=[schemas.ChartChange.model_validate(i) for i in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/patients/{patient_id}/portal-invitation",
    status_code=status.HTTP_201_CREATED,
    summary="Invite the patient to the portal by e-mail",
)
async def invite_to_portal(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsWrite,
    config: IdentityConfigDep,
    body: schemas.PortalInvite,
) -> schemas.PortalInvitationSent:
    user = await activity.invite_to_portal(
        session, actor=actor, patient_id=patient_id, email=body.email, config=config
    )
    return schemas.PortalInvitationSent(user_id=user.id, email=user.email)


# --- chart lists ------------------------------------------------------------------------


@router.get("/patients/{patient_id}/allergies", response_model=list[schemas.AllergyRead])
async def list_allergies(
    patient_id: uuid.UUID, session: SessionDep, actor: PatientsRead
) -> list[BaseModel]:
    """Everyone who may see the patient sees the active allergies (the banner); the
    whole list, inactive entries included, needs clinical access."""
    patient = await records.read_patient(
        session, actor=actor, patient_id=patient_id, view="allergies"
    )
    if sees_clinical(actor):
        entries = await chart.list_entries(
            session, actor=actor, patient_id=patient.id, kind="allergies"
        )
    else:
        entries = await chart.active_allergies(session, patient_id=patient.id)
    return [schemas.AllergyRead.model_validate(e) for e in entries]


def _chart_list_routes(kind: str, write: type[BaseModel], read: type[BaseModel]) -> None:
    """The list, add, update and remove routes of one chart list. Built per list so each
    route validates and documents its own body schema."""
    noun = chart.CHART_LISTS[kind].noun

    async def list_entries(
        patient_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
    ) -> list[BaseModel]:
        patient = await records.read_patient(session, actor=actor, patient_id=patient_id, view=kind)
        entries = await chart.list_entries(session, actor=actor, patient_id=patient.id, kind=kind)
        return [read.model_validate(e) for e in entries]

    async def add_entry(
        patient_id: uuid.UUID,
        response: Response,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
        body: BaseModel,
    ) -> BaseModel:
        entry = await chart.add_entry(
            session, actor=actor, patient_id=patient_id, kind=kind, data=body
        )
        with_etag(response, entry.version)
        return read.model_validate(entry)

    async def update_entry(
        patient_id: uuid.UUID,
        entry_id: uuid.UUID,
        response: Response,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
        body: BaseModel,
        if_match: IfMatch,
    ) -> BaseModel:
        entry = await chart.update_entry(
            session,
            actor=actor,
            patient_id=patient_id,
            kind=kind,
            entry_id=entry_id,
            data=body,
            expected_version=if_match,
        )
        with_etag(response, entry.version)
        return read.model_validate(entry)

    async def remove_entry(
        patient_id: uuid.UUID,
        entry_id: uuid.UUID,
        session: SessionDep,
        actor: Actor,  # the list's write permission, set below
        if_match: IfMatch,
    ) -> Response:
        await chart.remove_entry(
            session,
            actor=actor,
            patient_id=patient_id,
            kind=kind,
            entry_id=entry_id,
            expected_version=if_match,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # The body's schema and the permission differ per list; annotations are read when
    # the route is added.
    writer = actor_needing(chart.CHART_LISTS[kind].write_permission)
    for change in (add_entry, update_entry, remove_entry):
        change.__annotations__["actor"] = writer
    add_entry.__annotations__["body"] = write
    update_entry.__annotations__["body"] = write
    path = f"/patients/{{patient_id}}/{kind}"
    if kind != "allergies":  # allergies have their own list route (the banner rule)
        router.get(path, response_model=list[read], name=f"list_{kind}")(  # type: ignore[valid-type]
            list_entries
        )
    router.post(path, response_model=read, status_code=status.HTTP_201_CREATED, name=f"add_{noun}")(
        add_entry
    )
    router.put(f"{path}/{{entry_id}}", response_model=read, name=f"update_{noun}")(update_entry)
    router.delete(
        f"{path}/{{entry_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"remove_{noun}",
        summary=f"Remove a {noun} entry made in error (the audit trail keeps it)",
    )(remove_entry)


for _kind, _spec in chart.CHART_LISTS.items():
    _chart_list_routes(_kind, _spec.schema, READS[_kind])


@router.get("/icd10", summary="Find ICD-10-CM codes by code or words")
async def find_icd10_codes(
    session: SessionDep,
    actor: ClinicalRead,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: int = 20,
) -> list[schemas.Icd10Code]:
    found = await icd10.search(session, q, limit=min(limit, 50))
    return [schemas.Icd10Code(code=c.code, title=c.title) for c in found]


# --- documents ------------------------------------------------------------------------


@router.get("/patients/{patient_id}/documents", response_model=list[schemas.DocumentRead])
async def list_documents(
    patient_id: uuid.UUID, session: SessionDep, actor: PatientsRead
) -> list[schemas.DocumentRead]:
    """Front-desk staff see the photo and the scanned cards; clinical staff see all."""
    patient = await records.read_patient(
        session, actor=actor, patient_id=patient_id, view="documents"
    )
    found = await documents.list_documents(
        session,
        actor=actor,
        patient_id=patient.id,
        allowed_categories=readable_categories(actor),
    )
    return [schemas.DocumentRead.model_validate(d) for d in found]


@router.post(
    "/patients/{patient_id}/documents",
    response_model=schemas.DocumentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a PDF or an image (multipart form)",
)
async def upload_document(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsWrite,
    config: PatientsConfigDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str | None, Form(max_length=200)] = None,
    category: Annotated[DocumentCategory, Form()] = DocumentCategory.OTHER,
    shared_with_patient: Annotated[bool, Form()] = False,
) -> schemas.DocumentRead:
    try:
        meta = schemas.DocumentMeta(
            title=title, category=category, shared_with_patient=shared_with_patient
        )
    except ValidationError as error:
        raise InvalidField("title", error.errors()[0]["msg"]) from None
    document = await documents.upload_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=patient_id,
        upload=await upload_from(file),
        meta=meta,
        max_bytes=config.upload_max_bytes,
        allowed_categories=writable_categories(actor),
    )
    return schemas.DocumentRead.model_validate(document)


@router.get(
    "/patients/{patient_id}/documents/{document_id}/content",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
async def download_document(
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsRead,
    config: PatientsConfigDep,
) -> StreamingResponse:
    """The file, always as an attachment, with the type judged at upload."""
    download = await documents.open_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=patient_id,
        document_id=document_id,
        allowed_categories=readable_categories(actor),
    )
    return download_response(download)


@router.delete(
    "/patients/{patient_id}/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def delete_document(
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    actor: PatientsWrite,
    if_match: IfMatch,
    # The whole query is the schema, validated before the handler runs: a reason the
    # schema refuses (a control character) is a 422 like any other bad parameter.
    query: Annotated[schemas.DocumentDelete, Query()],
) -> Response:
    """A soft delete, with the reason on the audit trail."""
    await documents.delete_document(
        session,
        actor=actor,
        patient_id=patient_id,
        document_id=document_id,
        reason=query.reason,
        expected_version=if_match,
        allowed_categories=writable_categories(actor),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the portal: a patient's own record -----------------------------------------------


@router.get("/portal/record", summary="The signed-in patient's own record", tags=["portal"])
async def portal_record(session: SessionDep, actor: PatientPortal) -> schemas.PortalRecord:
    page = await pages.portal_page(session, actor=actor, viewers=False)
    return schemas.PortalRecord(
        patient=schemas.PortalPatientRead.model_validate(
            records.to_read(page.patient).model_dump()
        ),
        allergies=[schemas.AllergyRead.model_validate(a) for a in page.allergies],
        medications=[schemas.MedicationRead.model_validate(m) for m in page.medications],
        documents=[schemas.DocumentRead.model_validate(d) for d in page.documents],
    )


@router.get("/portal/viewers", summary="Who viewed my record", tags=["portal"])
async def portal_viewers(
    session: SessionDep, actor: PatientPortal, cursor: str | None = None
) -> schemas.RecordViewersPage:
    assert actor.patient_id is not None  # noqa: S101 - guaranteed by PatientPortal
    page = await activity.viewers(session, actor=actor, patient_id=actor.patient_id, cursor=cursor)
    return schemas.RecordViewersPage(
        items=[schemas.RecordViewer.model_validate(i) for i in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/portal/documents/{document_id}/content",
    tags=["portal"],
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
async def portal_download(
    document_id: uuid.UUID, session: SessionDep, actor: PatientPortal, config: PatientsConfigDep
) -> StreamingResponse:
    assert actor.patient_id is not None  # noqa: S101 - guaranteed by PatientPortal
    download = await documents.open_document(
        session,
        actor=actor,
        storage=config.storage,
        patient_id=actor.patient_id,
        document_id=document_id,
        allowed_categories=None,
    )
    return download_response(download)
