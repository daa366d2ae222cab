"""The insurance claims pages: the list (status, payer, a search by invoice number or
patient, the totals of what is found, CSV of it), one claim (its invoice, patient,
policy, amounts, items, remittances and history, with the steps its status allows:
submit, the payer's decision, a remittance; FHIR and CSV downloads), and the invoice
page's "Claim from insurer" form.

Reading needs billing:read and every step billing:write, as on the JSON API
(``api/claims.py``); every step calls the same service function. The forms post
without htmx: a step done goes back to the claim with a one-time message; one refused
shows the claim again, the form's message in words, with the refusal's own status
(409 for a step the status does not allow, 412 for a form older than the claim).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.access import BillingRead, BillingWrite
from clinicdesk.billing.claim_models import Claim
from clinicdesk.billing.claim_schemas import ClaimAccept, ClaimCreate, ClaimReject, RemittanceCreate
from clinicdesk.billing.errors import ClaimFilterRefused
from clinicdesk.billing.service import claim_desk, claim_exports, claims
from clinicdesk.billing.service.claim_desk import STATUS_WORDS
from clinicdesk.billing.service.claims import ClaimFilters
from clinicdesk.billing.service.common import find_invoice
from clinicdesk.billing.views import invoices as invoice_views
from clinicdesk.billing.views.common import amount_in, money
from clinicdesk.billing.vocabulary import ClaimStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
LIST = "billing/claims.html"
CLAIM = "billing/claim.html"
STALE = (
    "Someone else changed this claim since you opened it. It is shown below as it is "
    "now: check it, then do your step again if it is still needed."
)
LABELS = {
    "amount_approved": "approved amount",
    "reason": "reason",
    "payer_reference": "payer's reference",
    "amount": "amount paid",
    "adjustment": "amount adjusted",
    "adjustment_reason": "reason for the adjustment",
    "received_on": "date received",
    "policy_id": "policy",
    "amount_claimed": "amount to claim",
    "eligibility_note": "eligibility note",
}


def _words(actor: Actor) -> dict[str, Any]:
    return {
        "money": money,
        "status_words": STATUS_WORDS,
        "can_write": actor.can(Permission.BILLING_WRITE),
    }


def _message(error: ClinicError) -> str:
    return STALE if error.status_code == 412 else error.detail


def _field_errors(error: ClinicError) -> dict[str, str]:
    found = dict(error.fields) if isinstance(error, FormInvalid) else {}
    if isinstance(error, InvalidField):
        found[error.field] = error.message
    return found


# --- the list -----------------------------------------------------------------------------

# The filters come as text: a form's "Any" sends an empty value, which is no filter.
Text = Annotated[str, Query(max_length=40)]


def _filters(status: str, payer_id: str) -> ClaimFilters:
    """The list's filters from the address; a value no form offers is a 400 in words."""
    try:
        chosen = ClaimStatus(status.strip()) if status.strip() else None
    except ValueError:
        raise ClaimFilterRefused("Choose a status from the list.") from None
    try:
        payer = uuid.UUID(payer_id.strip()) if payer_id.strip() else None
    except ValueError:
        raise ClaimFilterRefused("Choose a payer from the list.") from None
    return ClaimFilters(payer_id=payer, status=chosen)


@router.get("/billing/claims", response_class=HTMLResponse)
async def claim_list(
    request: Request,
    session: SessionDep,
    actor: BillingRead,
    status: Text = "",
    payer_id: Text = "",
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Newest first, with the totals of every claim the filters find."""
    filtered = _filters(status, payer_id)
    found = await claim_desk.claim_list_page(
        session,
        actor=actor,
        filters=filtered,
        search=q,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    filters = {
        "status": filtered.status.value if filtered.status else "",
        "payer_id": str(filtered.payer_id) if filtered.payer_id else "",
        "q": q.strip(),
    }
    kept = {k: v for k, v in filters.items() if v}
    # The CSV export takes the filters the API's export knows (not the search).
    exported = {k: v for k, v in kept.items() if k != "q"}
    context = {
        "page": found,
        "filters": filters,
        "query": urlencode(kept),
        "export_query": urlencode(exported),
        "paged": cursor is not None,
        "statuses": list(ClaimStatus),
        **_words(actor),
    }
    return render(request, LIST, context)


def _csv(chunks: list[str], name: str) -> Response:
    return Response(
        "".join(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/billing/claims/export.csv", response_class=Response)
async def export_claims(
    session: SessionDep,
    actor: BillingRead,
    status: Text = "",
    payer_id: Text = "",
) -> Response:
    """The API's CSV export (one row per claimed item) of the list's filters."""
    filters = _filters(status, payer_id)
    chunks = [c async for c in claim_exports.export_csv(session, actor=actor, filters=filters)]
    return _csv(chunks, f"claims-{utcnow():%Y%m%d-%H%M%S}.csv")


# --- one claim ----------------------------------------------------------------------------


async def _claim_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    claim_id: uuid.UUID,
    *,
    failed: Refused | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = await claim_desk.claim_page(session, claim_id, actor=actor)
    context = {"p": page, "claim": page.claim, "failed": failed, **_words(actor)}
    return render(request, CLAIM, context, status_code=status_code)


@router.get("/billing/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(
    claim_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingRead
) -> HTMLResponse:
    return await _claim_page(request, session, actor, claim_id)


@router.get("/billing/claims/{claim_id}/claim.fhir.json", response_class=Response)
async def claim_fhir(claim_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """The API's FHIR R4 ``Claim``, as a file to save or send."""
    resource = await claim_exports.fhir_claim(session, claim_id, actor=actor)
    return Response(
        claim_exports.fhir_json(resource),
        media_type=claim_exports.FHIR_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="claim-{claim_id}.fhir.json"'},
    )


@router.get("/billing/claims/{claim_id}/claim.csv", response_class=Response)
async def claim_csv(claim_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """This claim in the API's CSV export (one row per claimed item)."""
    found = await claims.get_claim(session, claim_id, actor=actor)  # 404, patient access
    filters = ClaimFilters(claim_id=found.claim.id)
    chunks = [c async for c in claim_exports.export_csv(session, actor=actor, filters=filters)]
    return _csv(chunks, f"claim-{claim_id}.csv")


Step = Callable[[dict[str, str], Claim], Awaitable[str]]


async def _step(
    request: Request,
    session: SessionDep,
    actor: Actor,
    claim_id: uuid.UUID,
    form: str,
    fields: tuple[str, ...],
    step: Step,
) -> Response:
    """Run ``step`` (given what was typed and the claim) all or nothing; back to the
    claim with what was done, or the claim again with the refusal at ``form``."""
    claim = await claims.find_claim(session, claim_id)  # another's claim: 404 before the form
    values = form_text(await request.form(), fields)
    try:
        async with all_or_nothing(session):
            done = await step(values, claim)
    except ClinicError as error:
        if error.status_code == 404:
            raise
        failed = Refused(form, _message(error), _field_errors(error), values)
        return await _claim_page(
            request, session, actor, claim_id, failed=failed, status_code=error.status_code
        )
    response = redirect(f"/billing/claims/{claim_id}")
    flash(request, response, done)
    return response


@router.post("/billing/claims/{claim_id}/submit", response_class=HTMLResponse)
async def submit_claim(
    claim_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    async def step(v: dict[str, str], claim: Claim) -> str:
        found = await claims.submit_claim(
            session, actor=actor, claim_id=claim.id, expected_version=version
        )
        return f"The claim was submitted to {found.payer_name}."

    return await _step(request, session, actor, claim_id, "submit", (), step)


@router.post("/billing/claims/{claim_id}/decision", response_class=HTMLResponse)
async def record_decision(
    claim_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """The payer's answer: ``outcome`` is "full" (the claimed amount), "partial" (the
    ``amount_approved`` typed) or "rejected" (with its ``reason``)."""

    async def step(v: dict[str, str], claim: Claim) -> str:
        c = claim.currency
        reference = v["payer_reference"]
        if v["outcome"] == "rejected":
            data = parse_form(
                ClaimReject, {"reason": v["reason"], "payer_reference": reference}, labels=LABELS
            )
            await claims.reject_claim(
                session, actor=actor, claim_id=claim.id, data=data, expected_version=version
            )
            return f"The claim was recorded as rejected: {data.reason}"
        if v["outcome"] == "full":
            approved: int | None = claim.amount_claimed
        elif v["outcome"] == "partial":
            approved = amount_in(v["amount_approved"], c, "amount_approved")
            if approved is None:
                raise InvalidField("amount_approved", "Type the amount the payer approved.")
        else:
            raise InvalidField("outcome", "Choose what the payer decided.")
        accepted = parse_form(
            ClaimAccept, {"amount_approved": approved, "payer_reference": reference}, labels=LABELS
        )
        await claims.accept_claim(
            session, actor=actor, claim_id=claim.id, data=accepted, expected_version=version
        )
        return f"The claim was accepted for {money(accepted.amount_approved, c)} {c}."

    fields = ("outcome", "amount_approved", "reason", "payer_reference")
    return await _step(request, session, actor, claim_id, "decision", fields, step)


@router.post("/billing/claims/{claim_id}/remittances", response_class=HTMLResponse)
async def record_remittance(
    claim_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingWrite,
    version: FormVersion,
) -> Response:
    """What the payer paid (and adjusted away); the payment is posted to the invoice."""

    async def step(v: dict[str, str], claim: Claim) -> str:
        c = claim.currency
        body = {
            "amount": amount_in(v["amount"], c, "amount") or 0,
            "adjustment": amount_in(v["adjustment"], c, "adjustment") or 0,
            "adjustment_reason": v["adjustment_reason"],
            "received_on": v["received_on"],
            "payer_reference": v["payer_reference"],
            "notes": v["notes"],
        }
        data = parse_form(RemittanceCreate, body, labels=LABELS)
        found = await claim_desk.record_remittance_checked(
            session, actor=actor, claim_id=claim.id, data=data, expected_version=version
        )
        number = found.invoice_number or "the invoice"
        return (
            f"A remittance of {money(data.amount, c)} {c} was recorded and paid to invoice "
            f"{number}; the claim is {STATUS_WORDS[ClaimStatus(found.claim.status)].lower()}."
        )

    fields = (
        *("amount", "adjustment", "adjustment_reason", "received_on"),
        *("payer_reference", "notes"),
    )
    return await _step(request, session, actor, claim_id, "remittance", fields, step)


# --- from the invoice page ----------------------------------------------------------------


@router.post("/invoices/{invoice_id}/claims", response_class=HTMLResponse)
async def claim_invoice(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingWrite
) -> Response:
    """A draft claim of the invoice under the policy picked; then the claim's page. A
    refusal shows the invoice again with it (and the refusal's status)."""
    invoice = await find_invoice(session, invoice_id)  # another's invoice: 404 first
    values = form_text(await request.form(), ("policy_id", "amount_claimed", "eligibility_note"))
    try:
        body = {
            "invoice_id": invoice.id,
            "policy_id": values["policy_id"],
            "amount_claimed": amount_in(
                values["amount_claimed"], invoice.currency, "amount_claimed"
            ),
            "eligibility_note": values["eligibility_note"],
        }
        data = parse_form(ClaimCreate, body, labels=LABELS)
        async with all_or_nothing(session):
            made = await claims.create_claim(session, actor=actor, data=data)
    except ClinicError as error:
        if error.status_code == 404:
            raise
        shown = await invoice_views._page(
            request, session, actor, invoice_id, error=error.detail, errors=_field_errors(error)
        )
        shown.status_code = error.status_code
        return shown
    response = redirect(f"/billing/claims/{made.claim.id}")
    flash(
        request,
        response,
        f"A draft claim to {made.payer_name}: check it, then submit it to the payer.",
    )
    return response
