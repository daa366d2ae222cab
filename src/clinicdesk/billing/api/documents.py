"""JSON API of billing documents: an invoice or a credit note as PDF, and e-mailing an
issued invoice to the patient (queued; the job sends it).

PDFs carry patient data: every read is on the audit trail, and the answer is never
stored by a cache (``Cache-Control: no-store``, as every answer of the app)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from clinicdesk.billing.access import BillingRead, BillingWrite
from clinicdesk.billing.service import document_mail, documents
from clinicdesk.core.idempotency import IdempotencyKey, run_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])

PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The document as PDF."}
}


def pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, responses=PDF)
async def invoice_pdf(invoice_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """The invoice as printed; a draft prints with a DRAFT mark and no number."""
    document = await documents.invoice_document(session, invoice_id, actor=actor)
    return pdf_response(
        await documents.invoice_pdf(document), documents.invoice_filename(document.invoice)
    )


@router.get("/credit-notes/{credit_note_id}/pdf", response_class=Response, responses=PDF)
async def credit_note_pdf(
    credit_note_id: uuid.UUID, session: SessionDep, actor: BillingRead
) -> Response:
    """The credit note as printed, naming the invoice it corrects."""
    document = await documents.credit_note_document(session, credit_note_id, actor=actor)
    return pdf_response(
        await documents.credit_note_pdf(document), documents.credit_note_filename(document.note)
    )


class InvoiceEmailQueued(BaseModel):
    invoice_id: uuid.UUID
    job_id: uuid.UUID
    status: str = "queued"


@router.post(
    "/invoices/{invoice_id}/email",
    response_model=InvoiceEmailQueued,
    status_code=202,
    summary="E-mail the issued invoice to the patient (send Idempotency-Key to retry safely)",
)
async def email_invoice(
    invoice_id: uuid.UUID,
    session: SessionDep,
    actor: BillingWrite,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queued: the PDF goes to the e-mail address on the patient's record after the
    commit, retried if the mail server fails. 409 for a draft or a patient without an
    address."""

    async def use_case() -> tuple[int, object]:
        queued = await document_mail.email_invoice(session, actor=actor, invoice_id=invoice_id)
        body = InvoiceEmailQueued(invoice_id=queued.invoice_id, job_id=queued.job_id)
        return 202, body.model_dump(mode="json")

    outcome = await run_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/invoices/{invoice_id}/email",
        body={},
        use_case=use_case,
    )
    headers = {"Idempotency-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
