"""JSON API of notifications: one router per part, gathered in ``routers``; ``public``
holds the providers' webhooks (their signature is their credential)."""

from clinicdesk.core.routing import APIRouter

routers: list[APIRouter] = []
public = APIRouter()

__all__ = ["public", "routers"]
