"""The patient chart's "Invoices" section (the chart loads it by htmx): the checkout
panel of each consultation still to settle, the patient's latest invoices and a new
invoice by hand."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from clinicdesk.billing.access import BillingRead
from clinicdesk.billing.service import desk
from clinicdesk.billing.views.invoices import words
from clinicdesk.core.pages import FragmentOf, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(include_in_schema=False)

SHOWN = 10


@router.get("/billing/patients/{patient_id}/invoices", response_class=HTMLResponse)
async def chart_invoices(
    patient_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    fragment: Annotated[None, Depends(FragmentOf("/patients/{patient_id}"))],
) -> HTMLResponse:
    shown = await desk.patient_invoices(session, patient_id, actor=actor, limit=SHOWN)
    context = {"p": shown, **words(actor)}
    return render(request, "billing/_chart_invoices.html", context, block="section")
