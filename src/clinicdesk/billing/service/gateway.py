"""The card payment gateway: what billing asks of a card provider, whichever it is.

A gateway does two things for billing, and nothing else:

* ``start_payment``: ask the provider for a payment of an invoice's amount due (a
  PaymentIntent, a checkout session ...) and hand back what the payer's browser needs
  (a client secret or a hosted page's address);
* ``parse_webhook``: check that a webhook request really comes from the provider (its
  signature, over the exact bytes received, with a timestamp not too old) and turn it
  into a ``GatewayEvent``: succeeded, failed or refunded, the provider's event id, the
  amount and currency, and the metadata billing put on the payment when it started it.

Money is recorded by ``card_payments``, never by an adapter: an adapter knows HTTP and
the provider's format, billing knows invoices. Off by default (``CLINICDESK_CARD_GATEWAY``);
``gateway_choice.gateway_from_settings`` builds the configured one. Secrets never reach a
log line, an error message or the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class GatewayEventKind(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """What the provider made for one payment: its id, and what the payer's browser
    needs to pay (a client secret for the provider's script, or a hosted page)."""

    provider: str
    reference: str
    amount: int
    currency: str
    status: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_url: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """A verified webhook event, in billing's words. ``kind`` is None for an event type
    billing does not act on (it is acknowledged and ignored)."""

    provider: str
    event_id: str
    kind: GatewayEventKind | None
    reference: str | None = None
    amount: int = 0
    currency: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


class GatewaySignatureInvalid(Exception):
    """The webhook's signature is missing, malformed, wrong or too old. The reason is
    for the server's own log only; the caller is told nothing more than "bad request"."""


class GatewayUnavailable(Exception):
    """The provider did not answer, or answered with an error."""


class CardGateway(Protocol):
    name: str

    async def start_payment(
        self,
        *,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> PaymentStart: ...

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent: ...
