"""Card payments through the gateway: start one for an invoice's amount due, and record
the money when the provider's signed webhook says it was captured.

* **Starting** (the desk, ``billing:write``): the invoice must be issued and owe
  something. The provider is asked for a payment of ``amount_due`` in the invoice's
  currency, with the organization, invoice and patient in its metadata, under an
  idempotency key made of the invoice and what it owes (the same click twice gets the
  same payment from the provider; once the invoice changes, a new one). Nothing is
  recorded as paid here: money counts only when the provider confirms it.
* **The webhook** (no user; the provider's signature is the only credential): a bad or
  missing signature is refused before anything is read. A succeeded payment names its
  organization and invoice in the metadata this module put there; the session is scoped
  to that organization and the invoice is looked up *inside* it, so an organization id
  that is not the invoice's finds nothing and is refused. The patient and currency must
  be the invoice's too. The money is then recorded once per provider event id
  (``payments.record_gateway_payment``): allocated to the invoice up to what it still
  owes (the desk may have taken cash meanwhile), the rest kept as the patient's credit,
  audited with an actor that names the gateway. A replayed event records nothing.
* Failed payments and refunds made in the provider's dashboard are acknowledged and not
  recorded: a failed payment took no money, and a refund is recorded at the desk
  (``refunds.refund``, with its reason) so that it is never counted twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import (
    CardGatewayFailed,
    CardPaymentRefused,
    GatewayEventRefused,
    InvoiceNotFound,
    WebhookRefused,
)
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate
from clinicdesk.billing.service import invoices, payments
from clinicdesk.billing.service.common import find_invoice
from clinicdesk.billing.service.gateway import (
    CardGateway,
    GatewayEvent,
    GatewayEventKind,
    GatewaySignatureInvalid,
    GatewayUnavailable,
    PaymentStart,
)
from clinicdesk.billing.vocabulary import InvoiceStatus, PaymentMethod
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.errors import NotFound
from clinicdesk.core.idempotency import IdempotencyKeyReused, IdempotencyRecord
from clinicdesk.core.tenancy import scope_to_tenant

log = structlog.get_logger("clinicdesk.billing.gateway")

# The metadata keys put on a provider's payment, read back from its webhook.
ORGANIZATION = "clinicdesk_organization_id"
INVOICE = "clinicdesk_invoice_id"
PATIENT = "clinicdesk_patient_id"
NUMBER = "clinicdesk_invoice_number"


class WebhookResult(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already-recorded"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    result: WebhookResult
    event_id: str
    payment_id: uuid.UUID | None = None


def gateway_actor(provider: str, organization_id: uuid.UUID) -> Actor:
    """Who the audit trail names for money the gateway reports: no user, the system
    acting for the organization, with the provider in its roles."""
    return Actor(
        kind=ActorKind.SYSTEM,
        organization_id=organization_id,
        roles=frozenset({f"card-gateway:{provider}"}),
    )


async def start_card_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    invoice_id: uuid.UUID,
    gateway: CardGateway | None,
) -> tuple[Invoice, PaymentStart]:
    """Ask the provider for a payment of the invoice's ``amount_due`` (see the module).
    404 for an invoice not open to ``actor``; 409 when the gateway is off or nothing is
    owed; 502 when the provider does not answer."""
    invoice = (await invoices.get_invoice(session, invoice_id, actor=actor)).invoice
    if gateway is None:
        raise CardPaymentRefused("Card payments through a gateway are not set up here.")
    if invoice.status != InvoiceStatus.ISSUED:
        raise CardPaymentRefused("Issue the invoice before taking a card payment for it.")
    if invoice.amount_due <= 0:
        raise CardPaymentRefused("This invoice owes nothing.")
    metadata = {
        ORGANIZATION: str(invoice.organization_id),
        INVOICE: str(invoice.id),
        PATIENT: str(invoice.patient_id),
        NUMBER: invoice.number or "",
    }
    # The provider call runs inside this request's unit of work, a read one (the route is
    # ``reads_while_calling_out``): on SQLite it holds no write turn meanwhile, and the
    # audit entry below is written just after it. On PostgreSQL it holds one pooled
    # connection, for at most the adapter's timeout.
    try:
        started = await gateway.start_payment(
            amount=invoice.amount_due,
            currency=invoice.currency,
            metadata=metadata,
            idempotency_key=f"clinicdesk-{invoice.id}-{invoice.amount_due}-{invoice.version}",
            description=f"Invoice {invoice.number}",
        )
    except GatewayUnavailable as error:
        raise CardGatewayFailed(f"{error} Nothing was charged by ClinicDesk; try again.") from None
    await audit.record(
        session,
        action="invoice.card_payment_started",
        actor=actor,
        resource_type="invoice",
        resource_id=invoice.id,
        patient_id=invoice.patient_id,
        details={
            "provider": started.provider,
            "reference": started.reference,
            "amount": started.amount,
            "currency": started.currency,
        },
    )
    return invoice, started


def _uuid(metadata: Mapping[str, str], key: str) -> uuid.UUID:
    try:
        return uuid.UUID(metadata[key])
    except (KeyError, ValueError):
        raise GatewayEventRefused(f"The event's metadata has no valid {key}.") from None


async def _invoice_of(session: AsyncSession, event: GatewayEvent) -> Invoice:
    """The invoice the event pays, found only inside the organization it names."""
    organization_id = _uuid(event.metadata, ORGANIZATION)
    invoice_id = _uuid(event.metadata, INVOICE)
    patient_id = _uuid(event.metadata, PATIENT)
    await scope_to_tenant(session, organization_id)
    try:
        invoice = await find_invoice(session, invoice_id)
    except InvoiceNotFound:
        raise GatewayEventRefused("No invoice of this organization has this id.") from None
    if invoice.patient_id != patient_id:
        raise GatewayEventRefused("The event's patient is not the invoice's.")
    if event.currency != invoice.currency:
        raise GatewayEventRefused(f"The invoice is in {invoice.currency}, not {event.currency}.")
    if invoice.status != InvoiceStatus.ISSUED:
        raise GatewayEventRefused("The invoice is not issued.")
    return invoice


async def receive_webhook(
    session: AsyncSession,
    *,
    gateway: CardGateway | None,
    payload: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> WebhookOutcome:
    """Verify the webhook and record a captured payment once (see the module)."""
    if gateway is None:
        raise NotFound("No card gateway is set up here.")
    try:
        event = gateway.parse_webhook(payload, headers, now=now)
    except GatewaySignatureInvalid as error:
        log.info("card_gateway.webhook_refused", provider=gateway.name, reason=str(error))
        raise WebhookRefused("Bad request.") from None
    if event.kind != GatewayEventKind.SUCCEEDED:
        log.info(
            "card_gateway.webhook_ignored",
            provider=gateway.name,
            event_id=event.event_id,
            kind=event.kind.value if event.kind else None,
        )
        return WebhookOutcome(WebhookResult.IGNORED, event.event_id)
    if event.amount <= 0:
        raise GatewayEventRefused("A succeeded payment of no money.")
    invoice = await _invoice_of(session, event)
    towards_invoice = min(event.amount, invoice.amount_due)
    try:
        data = PaymentCreate(
            patient_id=invoice.patient_id,
            method=PaymentMethod.CARD,
            amount=event.amount,
            currency=invoice.currency,
            reference=f"{event.provider} {event.reference or event.event_id}"[:200],
            allocations=(
                [AllocationWanted(invoice_id=invoice.id, amount=towards_invoice)]
                if towards_invoice > 0
                else []
            ),
        )
    except ValidationError as error:
        # Signed, but not a payment the desk could take either (an amount past what one
        # payment may be): refused as an event, never a 500 (the provider would retry).
        problems = "; ".join(str(e["msg"]) for e in error.errors(include_url=False))
        raise GatewayEventRefused(
            f"The event is not a payment ClinicDesk can record: {problems}"
        ) from None
    actor = gateway_actor(event.provider, invoice.organization_id)
    operation = f"{event.provider} webhook"
    if await _seen(session, event_id=event.event_id, operation=operation):
        return WebhookOutcome(WebhookResult.ALREADY_RECORDED, event.event_id)
    try:
        made = await payments.record_gateway_payment(
            session, actor=actor, data=data, idempotency_key=event.event_id, operation=operation
        )
    except IdempotencyKeyReused:
        # Recorded meanwhile by a parallel delivery that saw the invoice owe another
        # amount: the event is done all the same.
        return WebhookOutcome(WebhookResult.ALREADY_RECORDED, event.event_id)
    log.info(
        "card_gateway.payment_recorded",
        provider=event.provider,
        event_id=event.event_id,
        payment_id=str(made.payment.id),
    )
    return WebhookOutcome(WebhookResult.RECORDED, event.event_id, made.payment.id)


async def _seen(session: AsyncSession, *, event_id: str, operation: str) -> bool:
    """Whether this event's payment is recorded already. Read before building the payment
    again: the invoice may owe another amount by now (the desk took cash meanwhile), and
    the idempotency check would take the new allocation for another request."""
    found = await session.scalar(
        select(IdempotencyRecord.id).where(
            IdempotencyRecord.key == event_id,
            IdempotencyRecord.user_id == payments.NO_USER,
            IdempotencyRecord.operation == operation,
        )
    )
    return found is not None
