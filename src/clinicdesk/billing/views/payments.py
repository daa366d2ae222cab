"""Money on the invoice pages: take a payment (the checkout panel and the invoice page),
use the patient's credit, refund or void a payment (``billing:refund``: billing and the
admin), and print a payment's receipt.

Every form that creates money carries ``form_key``, made when the form was rendered
(``checkout.new_form_key``): a form sent twice (a double click, a retry) takes the money
once, and says so. The forms answer like the invoice's other forms (``invoices._change``):
the panel or the invoice's body back in place, the refusal in words.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.billing.access import BillingRead, BillingRefund, BillingWrite
from clinicdesk.billing.payment_schemas import RefundCreate, VoidRequest
from clinicdesk.billing.service import checkout, payments, receipts
from clinicdesk.billing.service.checkout import DeskPayment
from clinicdesk.billing.service.common import find_invoice
from clinicdesk.billing.views.common import amount_in, money
from clinicdesk.billing.views.invoices import _change
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.forms import parse_form
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(include_in_schema=False)

LABELS = {"amount": "amount", "method": "method", "reference": "reference", "reason": "reason"}
ONCE = "This form was already sent: it was done once, not twice."


def receipt_url(payment_id: uuid.UUID) -> str:
    return f"/payments/{payment_id}/receipt.pdf"


def _key(text: str) -> str:
    if not text:
        raise InvalidField(
            "form_key", "This form is missing its key: reload the page, then send it again."
        )
    return text


@router.post("/invoices/{invoice_id}/payments", response_class=HTMLResponse)
async def take_payment(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingWrite
) -> Response:
    """Money for the invoice (``amount`` as typed, "50.00"); beyond what it owes, the
    rest is kept as the patient's credit."""

    async def step(v: dict[str, str], currency: str) -> str:
        invoice = await find_invoice(session, invoice_id)  # 404 before the form
        body = {
            "method": v["method"],
            "amount": amount_in(v["amount"], currency, "amount"),
            "reference": v["reference"],
        }
        form = parse_form(
            DeskPayment, body, labels=LABELS, hint="Give the amount, such as 12.50, and the method."
        )
        taken = await checkout.take_payment(
            session, actor=actor, invoice_id=invoice.id, form=form, form_key=_key(v["form_key"])
        )
        said = [
            f"{checkout.method_word(taken.payment.method)} "
            f"{money(taken.payment.amount, currency)} {currency} taken."
        ]
        if taken.credit_left > 0:
            said.append(
                f"{money(taken.credit_left, currency)} {currency} more than was owed is kept "
                "as the patient's credit."
            )
        if invoice.amount_due > 0:
            said.append(f"Still owed: {money(invoice.amount_due, currency)} {currency}.")
        if taken.replayed:
            said.append(ONCE)
        return " ".join(said)

    fields = ("method", "amount", "reference", "form_key")
    return await _change(request, session, actor, invoice_id, fields, step)


@router.post("/invoices/{invoice_id}/apply-credit", response_class=HTMLResponse)
async def use_credit(
    invoice_id: uuid.UUID, request: Request, session: SessionDep, actor: BillingWrite
) -> Response:
    """As much of the patient's credit as the invoice owes."""

    async def step(v: dict[str, str], currency: str) -> str:
        applied, replayed = await checkout.use_credit(
            session, actor=actor, invoice_id=invoice_id, form_key=_key(v["form_key"])
        )
        said = f"{money(applied, currency)} {currency} of the patient's credit used."
        return f"{said} {ONCE}" if replayed else said

    return await _change(request, session, actor, invoice_id, ("form_key",), step)


@router.post("/invoices/{invoice_id}/payments/{payment_id}/refund", response_class=HTMLResponse)
async def refund_payment(
    invoice_id: uuid.UUID,
    payment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingRefund,
) -> Response:
    """Part or all of a payment given back, by its own method, with a reason."""

    async def step(v: dict[str, str], currency: str) -> str:
        await payments.find_payment(session, payment_id)  # 404 before the form
        body = {"amount": amount_in(v["amount"], currency, "amount"), "reason": v["reason"]}
        data = parse_form(
            RefundCreate, body, labels=LABELS, hint="Give the amount to refund and the reason."
        )
        amount, replayed = await checkout.refund_payment(
            session, actor=actor, payment_id=payment_id, data=data, form_key=_key(v["form_key"])
        )
        said = f"{money(amount, currency)} {currency} refunded."
        return f"{said} {ONCE}" if replayed else said

    return await _change(
        request, session, actor, invoice_id, ("amount", "reason", "form_key"), step
    )


@router.post("/invoices/{invoice_id}/payments/{payment_id}/void", response_class=HTMLResponse)
async def void_payment(
    invoice_id: uuid.UUID,
    payment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: BillingRefund,
) -> Response:
    """A payment taken in error: kept, marked voided with the reason; owed again."""

    async def step(v: dict[str, str], currency: str) -> str:
        await payments.find_payment(session, payment_id)
        data = parse_form(VoidRequest, {"reason": v["reason"]}, labels=LABELS, hint="Say why.")
        found = await payments.void_payment(
            session, actor=actor, payment_id=payment_id, reason=data.reason
        )
        return f"The payment of {money(found.payment.amount, currency)} {currency} was voided."

    return await _change(request, session, actor, invoice_id, ("reason",), step)


@router.get("/payments/{payment_id}/receipt.pdf")
async def receipt_pdf(payment_id: uuid.UUID, session: SessionDep, actor: BillingRead) -> Response:
    """The receipt, to print (opens in the browser's PDF viewer)."""
    content, filename = await receipts.receipt_pdf(session, payment_id, actor=actor)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
