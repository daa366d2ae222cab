"""Calendar feed links: a provider (or an administrator) creates and revokes the private
``.ics`` link, and the one public route that serves it to calendar apps."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.pages import render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.scheduling.access import SchedulingRead
from clinicdesk.scheduling.policies import can_manage_feed
from clinicdesk.scheduling.service import feeds, setup

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: SessionDep,
    actor: SchedulingRead,
    *,
    issued: tuple[uuid.UUID, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    providers = [p for p in await setup.list_providers(session) if can_manage_feed(actor, p)]
    base = str(request.base_url).rstrip("/")
    new_link = (issued[0], f"{base}/calendar/feeds/{issued[1]}.ics") if issued else None
    return render(
        request,
        "scheduling/feeds.html",
        {"providers": providers, "new_link": new_link, "message": message},
        block="feeds",
    )


@router.get("/calendar/feed-links", response_class=HTMLResponse)
async def feed_links(request: Request, session: SessionDep, actor: SchedulingRead) -> HTMLResponse:
    """The providers whose feed the user may manage: their own, or all for an admin."""
    return await _page(request, session, actor)


@router.post("/calendar/feed-links/{provider_id}", response_class=HTMLResponse)
async def issue_feed_link(
    provider_id: uuid.UUID, request: Request, session: SessionDep, actor: SchedulingRead
) -> HTMLResponse:
    secret = await feeds.issue_feed_token(session, actor=actor, provider_id=provider_id)
    return await _page(request, session, actor, issued=(provider_id, secret))


@router.post("/calendar/feed-links/{provider_id}/revoke", response_class=HTMLResponse)
async def revoke_feed_link(
    provider_id: uuid.UUID, request: Request, session: SessionDep, actor: SchedulingRead
) -> HTMLResponse:
    await feeds.revoke_feed(session, actor=actor, provider_id=provider_id)
    return await _page(request, session, actor, message="The link was revoked; it no longer works.")


@public.get("/calendar/feeds/{token}.ics")
async def provider_feed(
    token: Annotated[str, Path(max_length=100)], session: SessionDep
) -> Response:
    """The provider's schedule for calendar apps (no session: the secret is the key).

    Not cached (the app-wide ``no-store``): calendar apps refresh a subscription on their
    own schedule (hours, whatever a max-age says), so a short max-age saved nothing, while
    it left patients' names in browser and proxy caches and kept a revoked link working
    from a cache for five minutes."""
    text = await feeds.feed(session, token)
    return Response(text, media_type="text/calendar; charset=utf-8")
