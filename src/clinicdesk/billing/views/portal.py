"""The patient's invoices in the portal: the list with the balance, and each invoice
and credit note as PDF. The patient always comes from the signed-in actor."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.service import documents, portal
from clinicdesk.core.pages import render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import PatientPortal

router = APIRouter(include_in_schema=False)
PAGE = "/portal/invoices"


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(PAGE, response_class=HTMLResponse)
async def invoices_page(
    request: Request,
    session: SessionDep,
    actor: PatientPortal,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    page = await portal.my_billing(session, actor=actor, cursor=cursor)
    return render(request, "billing/portal_invoices.html", {"page": page, "head": page.head})


@router.get(PAGE + "/{invoice_id}.pdf")
async def my_invoice_pdf(
    invoice_id: uuid.UUID, session: SessionDep, actor: PatientPortal
) -> Response:
    document = await portal.my_invoice(session, actor=actor, invoice_id=invoice_id)
    return _pdf(await documents.invoice_pdf(document), documents.invoice_filename(document.invoice))


@router.get("/portal/credit-notes/{credit_note_id}.pdf")
async def my_credit_note_pdf(
    credit_note_id: uuid.UUID, session: SessionDep, actor: PatientPortal
) -> Response:
    document = await portal.my_credit_note(session, actor=actor, credit_note_id=credit_note_id)
    return _pdf(
        await documents.credit_note_pdf(document), documents.credit_note_filename(document.note)
    )
