"""JSON API of notifications: one router per part, gathered in ``routers``; ``public``
holds the providers' webhooks (their signature is their credential)."""

from clinicdesk.core.routing import APIRouter
from clinicdesk.notifications.api import alerts as alerts_api
from clinicdesk.notifications.api import messages, settings, webhooks

routers: list[APIRouter] = [messages.router, settings.router, alerts_api.router]
public = APIRouter()
public.include_router(webhooks.public)

__all__ = ["public", "routers"]
