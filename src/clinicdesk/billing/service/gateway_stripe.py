"""Stripe as the card gateway, over its documented REST API with plain HTTP (no SDK).

* **Starting a payment**: ``POST {api}/v1/payment_intents``, form-encoded (``amount`` in
  the currency's smallest unit, ``currency`` in lower case, ``metadata[key]=value``,
  ``automatic_payment_methods[enabled]=true``), authenticated with the secret key as a
  Bearer token and sent with an ``Idempotency-Key`` header, so a retried request gets
  the same PaymentIntent instead of a second one. The answer's ``client_secret`` goes to
  the payer's browser (Stripe.js confirms the payment); it is never logged.
* **Webhooks**: the ``Stripe-Signature`` header is ``t=<unix time>,v1=<hex>[,v1=...]``;
  each ``v1`` is HMAC-SHA256 of ``"{t}.{raw body}"`` under the endpoint's signing
  secret. The body is checked byte for byte as received (parsing and re-serializing
  would change it), compared in constant time, and refused when ``t`` is more than
  300 seconds from now (Stripe's own libraries' tolerance: a captured request cannot be
  replayed later). Other schemes in the header (``v0``) are ignored, as Stripe says.

Amounts: ClinicDesk's minor units are ISO 4217's, which is what Stripe takes for the
common currencies (cents, yen); Stripe's few exceptions (e.g. ISK, HUF payouts, three-
decimal currencies that must end in 0) are not handled here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from clinicdesk.billing.service.gateway import (
    GatewayEvent,
    GatewayEventKind,
    GatewaySignatureInvalid,
    GatewayUnavailable,
    PaymentStart,
)

log = structlog.get_logger("clinicdesk.billing.gateway")

SIGNATURE_HEADER = "stripe-signature"
TOLERANCE_SECONDS = 300
# A desk waits for this at most; the provider is usually far quicker.
# Seconds: the whole call, and connecting (httpx.Timeout, built where httpx is imported).
TIMEOUT_SECONDS, CONNECT_SECONDS = 10.0, 5.0

EVENT_KINDS = {
    "payment_intent.succeeded": GatewayEventKind.SUCCEEDED,
    "payment_intent.payment_failed": GatewayEventKind.FAILED,
    "charge.refunded": GatewayEventKind.REFUNDED,
}


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    """Stripe's ``v1`` signature of ``payload`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, payload: bytes, header: str | None, *, now: datetime, tolerance: int
) -> None:
    """Raise ``GatewaySignatureInvalid`` unless one ``v1`` of ``header`` signs ``payload``
    and its timestamp is within ``tolerance`` seconds of ``now``."""
    if not header:
        raise GatewaySignatureInvalid("no Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for element in header.split(","):
        key, _, value = element.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise GatewaySignatureInvalid("the header has no timestamp or no v1 signature")
    expected = signature(secret, timestamp, payload)
    # Every candidate is compared, in constant time each, whatever the first one gave.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise GatewaySignatureInvalid("no v1 signature matches the payload")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise GatewaySignatureInvalid("the signature's timestamp is outside the tolerance")


def _form(
    *, amount: int, currency: str, metadata: Mapping[str, str], description: str | None
) -> dict[str, str]:
    form = {
        "amount": str(amount),
        "currency": currency.lower(),
        "automatic_payment_methods[enabled]": "true",
    }
    for key, value in metadata.items():
        form[f"metadata[{key}]"] = value
    if description:
        form["description"] = description
    return form


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        api_url: str = "https://api.stripe.com",
        tolerance: int = TOLERANCE_SECONDS,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._api_url = api_url.rstrip("/")
        self._tolerance = tolerance

    def __repr__(self) -> str:  # never the secrets
        return f"StripeGateway(api_url={self._api_url!r})"

    async def start_payment(
        self,
        *,
        amount: int,
        currency: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> PaymentStart:
        form = _form(amount=amount, currency=currency, metadata=metadata, description=description)
        headers = {
            "Authorization": f"Bearer {self._secret_key}",
            "Idempotency-Key": idempotency_key,
        }
        # Imported here, only when a gateway is on: importing httpx also imports its command
        # line (rich.progress, pygments) when rich is installed, which every server
        # process would otherwise hold (tests/test_cli.py checks what serve loads).
        import httpx

        timeout = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS)
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.post(
                    f"{self._api_url}/v1/payment_intents", data=form, headers=headers
                )
        except httpx.HTTPError as error:
            log.warning("card_gateway.unreachable", provider=self.name, error=type(error).__name__)
            raise GatewayUnavailable("The card gateway did not answer.") from None
        if response.status_code != 200:
            # Stripe's error type and code say what went wrong, without any secret.
            error_body = _json_or_empty(response.content).get("error", {})
            log.warning(
                "card_gateway.refused",
                provider=self.name,
                status=response.status_code,
                type=error_body.get("type"),
                code=error_body.get("code"),
            )
            raise GatewayUnavailable("The card gateway refused the payment request.")
        intent = _json_or_empty(response.content)
        if not isinstance(intent.get("id"), str):
            raise GatewayUnavailable("The card gateway answered something unexpected.")
        return PaymentStart(
            provider=self.name,
            reference=intent["id"],
            amount=int(intent.get("amount", amount)),
            currency=str(intent.get("currency", currency)).upper(),
            status=str(intent.get("status", "")),
            client_secret=intent.get("client_secret"),
        )

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        verify_signature(
            self._webhook_secret,
            payload,
            headers.get(SIGNATURE_HEADER),
            now=now,
            tolerance=self._tolerance,
        )
        event = _json_or_empty(payload)
        event_id = event.get("id")
        data = event.get("data")
        found = data.get("object") if isinstance(data, dict) else None
        if not isinstance(event_id, str) or not isinstance(found, dict):
            raise GatewaySignatureInvalid("a signed body that is not a Stripe event")
        kind = EVENT_KINDS.get(str(event.get("type")))
        metadata = found.get("metadata") if isinstance(found.get("metadata"), dict) else {}
        if kind == GatewayEventKind.REFUNDED:  # a Charge: its PaymentIntent is the payment
            reference, amount = found.get("payment_intent"), found.get("amount_refunded")
        elif kind == GatewayEventKind.SUCCEEDED:
            reference, amount = found.get("id"), found.get("amount_received")
        else:
            reference, amount = found.get("id"), found.get("amount")
        return GatewayEvent(
            provider=self.name,
            event_id=event_id,
            kind=kind,
            reference=reference if isinstance(reference, str) else None,
            amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else 0,
            currency=str(found.get("currency") or "").upper(),
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
        )


def _json_or_empty(content: bytes) -> dict[str, Any]:
    try:
        found = json.loads(content)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
