"""JSON API of receipts: a payment's receipt as PDF (``billing:read``, the desk prints
it). Like every billing document it carries patient data: the read is on the audit
trail and the answer is never stored by a cache (``Cache-Control: no-store``)."""

from __future__ import annotations

import uuid

from fastapi import Response

from clinicdesk.billing.access import BillingRead
from clinicdesk.billing.api.documents import PDF, pdf_response
from clinicdesk.billing.service import receipts
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])


@router.get("/payments/{payment_id}/receipt/pdf", response_class=Response, responses=PDF)
async def receipt_pdf(payment_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """What it paid on which invoice, what is kept as credit and the patient's balance;
    a voided payment's receipt says so, and lists any refund with its reason."""
    content, filename = await receipts.receipt_pdf(session, payment_id, actor=actor)
    return pdf_response(content, filename)
