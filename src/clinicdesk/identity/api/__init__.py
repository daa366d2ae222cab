"""JSON API of identity: signing in and tokens (``public``), users, the organization and
its locations, sessions (``accounts``), and the background jobs' admin (``jobs``)."""

from __future__ import annotations

from clinicdesk.core.routing import APIRouter
from clinicdesk.identity.api import accounts, jobs

public = accounts.public

router = APIRouter()
router.include_router(accounts.router)
router.include_router(jobs.router)

__all__ = ["public", "router"]
