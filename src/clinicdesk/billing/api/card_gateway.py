"""JSON API of card payments through the gateway: the desk starts one for an invoice
(``billing:write``), and the provider's webhook reports the outcome.

The webhook is public (in ``clinicdesk.app.PUBLIC_PATHS``): the provider has no user
here, and its signature over the exact body is its only credential (checked by the
adapter before anything else is read).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from clinicdesk.billing.access import BillingWrite
from clinicdesk.billing.service import card_payments
from clinicdesk.billing.service.gateway import CardGateway
from clinicdesk.billing.service.gateway_choice import gateway_from_settings
from clinicdesk.core.models import utcnow
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import RuntimeDep, SessionDep, reads_while_calling_out

router = APIRouter(prefix="/api/v1", tags=["billing"])
public = APIRouter(prefix="/api/v1", tags=["billing"])


def configured_gateway(runtime: RuntimeDep) -> CardGateway | None:
    return gateway_from_settings(runtime.settings)


Gateway = Annotated[CardGateway | None, Depends(configured_gateway)]


class CardPaymentStarted(BaseModel):
    invoice_id: uuid.UUID
    provider: str
    reference: str = Field(description="The provider's payment id (a Stripe PaymentIntent).")
    amount: int
    currency: str
    status: str
    client_secret: str | None = Field(
        description="For the provider's script in the payer's browser; do not store or log it."
    )
    redirect_url: str | None


class WebhookAnswer(BaseModel):
    received: bool = True
    result: card_payments.WebhookResult


@router.post(
    "/invoices/{invoice_id}/card-payment",
    response_model=CardPaymentStarted,
    status_code=201,
    summary="Start a card payment of the invoice's amount due through the gateway",
)
@reads_while_calling_out  # the provider may take seconds; nothing but the audit is written
async def start_card_payment(
    invoice_id: uuid.UUID, session: SessionDep, actor: BillingWrite, gateway: Gateway
) -> CardPaymentStarted:
    """Nothing is recorded as paid until the provider's webhook confirms the payment.
    409 when the gateway is off, the invoice is a draft or owes nothing; 502 when the
    provider does not answer."""
    invoice, started = await card_payments.start_card_payment(
        session, actor=actor, invoice_id=invoice_id, gateway=gateway
    )
    return CardPaymentStarted(
        invoice_id=invoice.id,
        provider=started.provider,
        reference=started.reference,
        amount=started.amount,
        currency=started.currency,
        status=started.status,
        client_secret=started.client_secret,
        redirect_url=started.redirect_url,
    )


@public.post(
    "/billing/gateway/webhook",
    response_model=WebhookAnswer,
    summary="The card gateway's webhook (signed by the provider; no sign-in)",
)
async def gateway_webhook(request: Request, session: SessionDep, gateway: Gateway) -> WebhookAnswer:
    """400 for a missing or wrong signature (nothing more said); 200 for an event
    recorded now, recorded before, or not acted on; 422 for a signed event that names no
    invoice of its organization; 404 when no gateway is set up."""
    outcome = await card_payments.receive_webhook(
        session,
        gateway=gateway,
        payload=await request.body(),
        headers=request.headers,
        now=utcnow(),
    )
    return WebhookAnswer(result=outcome.result)
