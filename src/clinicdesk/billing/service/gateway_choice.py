"""Which card gateway the settings name (``gateway.py`` says what a gateway is). Apart
from ``gateway.py`` so that the protocol's module never imports its adapters."""

from __future__ import annotations

from clinicdesk.billing.service.gateway import CardGateway
from clinicdesk.billing.service.gateway_stripe import StripeGateway
from clinicdesk.config import Settings


def gateway_from_settings(settings: Settings) -> CardGateway | None:
    """The configured gateway, or None when card payments through a gateway are off."""
    if settings.card_gateway == "stripe":
        # The settings' own check guarantees both secrets when a gateway is on.
        assert settings.card_gateway_secret_key is not None  # noqa: S101
        assert settings.card_gateway_webhook_secret is not None  # noqa: S101
        return StripeGateway(
            secret_key=settings.card_gateway_secret_key.get_secret_value(),
            webhook_secret=settings.card_gateway_webhook_secret.get_secret_value(),
            api_url=settings.card_gateway_api_url,
        )
    return None
