"""JSON API of notifications: one router per part, gathered in ``routers``; ``public``
holds the providers' webhooks (their signature is their credential)."""

from clinicdesk.core.routing import APIRouter
from clinicdesk.notifications.api import alerts as alerts_api

routers: list[APIRouter] = [
    alerts_api.router,
]
public = APIRouter()

__all__ = ["public", "routers"]
