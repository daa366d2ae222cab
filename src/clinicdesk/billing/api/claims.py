"""JSON API of insurance claims: make one from an issued invoice, list (by payer,
status, patient, invoice, service dates) and read, submit / accept / reject, record
remittances; export one as a FHIR R4 ``Claim`` and the list as CSV.

Status steps carry the claim's ``If-Match``; creating a claim or a remittance honours
``Idempotency-Key`` (a retried remittance is never recorded twice).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from clinicdesk.billing.access import BillingRead, BillingWrite
from clinicdesk.billing.claim_schemas import (
    ClaimAccept,
    ClaimCreate,
    ClaimItemRead,
    ClaimList,
    ClaimRead,
    ClaimReject,
    ClaimSummary,
    FhirClaimResource,
    RemittanceCreate,
    RemittanceRead,
)
from clinicdesk.billing.service import claim_exports, claims
from clinicdesk.billing.service.claims import ClaimDetail, ClaimFilters
from clinicdesk.billing.vocabulary import ClaimStatus
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.models import utcnow
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])

DateFrom = Annotated[date | None, Query(description="Service date (the invoice's) on or after.")]
DateTo = Annotated[date | None, Query(description="Service date (the invoice's) on or before.")]


FHIR_CLAIM_SCHEMA = {"$ref": "#/components/schemas/FhirClaimResource"}


class FhirResponse(Response):
    media_type = claim_exports.FHIR_MEDIA_TYPE


def detail(found: ClaimDetail) -> ClaimRead:
    return ClaimRead.model_validate(
        {
            **ClaimSummary.model_validate(found.claim).model_dump(),
            "payer_name": found.payer_name,
            "invoice_number": found.invoice_number,
            "items": [ClaimItemRead.model_validate(i) for i in found.items],
            "remittances": [RemittanceRead.model_validate(r) for r in found.remittances],
        }
    )


def _answer(response: Response, found: ClaimDetail) -> ClaimRead:
    with_etag(response, found.claim.version)
    return detail(found)


@router.get("/claims", response_model=ClaimList)
async def list_claims(
    session: SessionDep,
    actor: BillingRead,
    payer_id: uuid.UUID | None = None,
    status: ClaimStatus | None = None,
    patient_id: uuid.UUID | None = None,
    invoice_id: uuid.UUID | None = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
) -> ClaimList:
    """Newest first."""
    found, next_cursor = await claims.list_claims(
        session,
        actor=actor,
        filters=ClaimFilters(payer_id, status, patient_id, invoice_id, date_from, date_to),
        limit=limit,
        cursor=cursor,
    )
    return ClaimList(items=[ClaimSummary.model_validate(c) for c in found], next_cursor=next_cursor)


@router.get(
    "/claims/export.csv",
    summary="Claims as CSV (one row per claimed item, spreadsheet-safe), with the list's filters",
    response_class=StreamingResponse,
)
async def export_claims(
    session: SessionDep,
    actor: BillingRead,
    payer_id: uuid.UUID | None = None,
    status: ClaimStatus | None = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> StreamingResponse:
    # Read whole in the request's transaction (the export's audit entry commits with
    # it) before the answer starts.
    chunks = [
        chunk
        async for chunk in claim_exports.export_csv(
            session,
            actor=actor,
            filters=ClaimFilters(
                payer_id=payer_id, status=status, date_from=date_from, date_to=date_to
            ),
        )
    ]

    async def body() -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="claims-{utcnow():%Y%m%d-%H%M%S}.csv"'
        },
    )


@router.post(
    "/claims",
    response_model=ClaimRead,
    status_code=201,
    summary="Claim an issued invoice from a payer (send Idempotency-Key to retry safely)",
)
async def create_claim(
    session: SessionDep,
    actor: BillingWrite,
    body: ClaimCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Under the patient's primary policy in force on the invoice's date unless
    ``policy_id`` names another; 409 for a draft invoice, a policy out of force, or more
    than is left to claim."""

    async def create() -> ClaimRead:
        return detail(await claims.create_claim(session, actor=actor, data=body))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/claims",
        body=body,
        create=create,
    )


@router.get("/claims/{claim_id}", response_model=ClaimRead)
async def read_claim(
    claim_id: uuid.UUID, response: Response, session: SessionDep, actor: BillingRead
) -> ClaimRead:
    return _answer(response, await claims.get_claim(session, claim_id, actor=actor))


@router.get(
    "/claims/{claim_id}/fhir",
    summary="The claim as a FHIR R4 Claim resource",
    response_class=FhirResponse,
    responses={
        200: {
            "model": FhirClaimResource,
            "content": {claim_exports.FHIR_MEDIA_TYPE: {"schema": FHIR_CLAIM_SCHEMA}},
        }
    },
)
async def read_claim_fhir(claim_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """The member number is in clear only for those who may change insurance policies."""
    resource = await claim_exports.fhir_claim(session, claim_id, actor=actor)
    return FhirResponse(claim_exports.fhir_json(resource))


@router.post("/claims/{claim_id}/submit", response_model=ClaimRead)
async def submit_claim(
    claim_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    if_match: IfMatch,
) -> ClaimRead:
    found = await claims.submit_claim(
        session, actor=actor, claim_id=claim_id, expected_version=if_match
    )
    return _answer(response, found)


@router.post("/claims/{claim_id}/accept", response_model=ClaimRead)
async def accept_claim(
    claim_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: ClaimAccept,
    if_match: IfMatch,
) -> ClaimRead:
    found = await claims.accept_claim(
        session, actor=actor, claim_id=claim_id, data=body, expected_version=if_match
    )
    return _answer(response, found)


@router.post("/claims/{claim_id}/reject", response_model=ClaimRead)
async def reject_claim(
    claim_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: ClaimReject,
    if_match: IfMatch,
) -> ClaimRead:
    found = await claims.reject_claim(
        session, actor=actor, claim_id=claim_id, data=body, expected_version=if_match
    )
    return _answer(response, found)


@router.post(
    "/claims/{claim_id}/remittances",
    response_model=ClaimRead,
    status_code=201,
    summary="Record what the payer paid (send Idempotency-Key to retry safely)",
)
async def record_remittance(
    claim_id: uuid.UUID,
    session: SessionDep,
    actor: BillingWrite,
    body: RemittanceCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answers the whole claim with its new amounts and status; 409 past what is left."""

    async def create() -> ClaimRead:
        return detail(
            await claims.record_remittance(session, actor=actor, claim_id=claim_id, data=body)
        )

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/claims/{claim_id}/remittances",
        body=body,
        create=create,
    )
