"""``GET /api/v1/events``: live updates as server-sent events, for every screen.

One stream per screen, scoped to what its credential may see. Who the caller is, is
decided here: a signed-in staff user or patient (session cookie, or a bearer token for
API clients), a waiting-room display (``?display=<secret>``), or a patient's private
visit link (``?visit=<secret>``). What they get of each event is decided by the domain
that publishes it (``core.live``: each registers its rules when the app is built).

The route signs the caller in by itself (so it is on the public list): a display or a
patient link has no session. Nothing is held open in the database while streaming; the
credential is checked again every ``RECHECK_SECONDS`` and the stream ends when it no
longer holds (signed out, display revoked, link expired). Reconnecting with
``Last-Event-ID`` replays what was missed (``core.sse``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Header, Query, Request, Response
from fastapi.sse import EventSourceResponse
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.live import Listener, LiveRules
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep, get_runtime
from clinicdesk.core.sse import STREAM_HEADERS, STREAM_RESPONSES, event_stream
from clinicdesk.identity import public as identity
from clinicdesk.identity.auth import bearer_token, identity_config
from clinicdesk.identity.errors import NotAuthenticated
from clinicdesk.queue import public as queue

public = APIRouter(prefix="/api/v1", tags=["live"])

RECHECK_SECONDS = 30.0
Secret = Annotated[str | None, Query(max_length=100)]


def build_rules(publishers: Iterable[Callable[[LiveRules], None]]) -> LiveRules:
    """The rules of every domain that publishes live events (``app.LIVE_PUBLISHERS``)."""
    rules = LiveRules()
    for register in publishers:
        register(rules)
    return rules


def live_rules(request: Request) -> LiveRules:
    rules: LiveRules = request.app.state.live_rules
    return rules


def _staff_or_patient(actor: Actor) -> Listener:
    if actor.organization_id is None:
        raise NotAuthenticated("Sign in to an organization to follow its queue.")
    if actor.kind == ActorKind.PATIENT:
        return Listener(
            organization_id=actor.organization_id, kind="patient", patient_id=actor.patient_id
        )
    return Listener(
        organization_id=actor.organization_id,
        kind="staff",
        permissions=actor.permissions,
        user_id=actor.user_id,
        roles=actor.roles,
    )


async def _resolve(
    request: Request, session: AsyncSession, display: str | None, visit: str | None
) -> Listener:
    """The listener behind the request's credential; ``NotAuthenticated`` without one."""
    if display:
        access = await queue.resolve_display(session, display)
        listener = Listener(
            organization_id=access.organization_id, kind="display", location_id=access.location_id
        )
    elif visit:
        found = await queue.resolve_visit(session, visit)
        listener = Listener(
            organization_id=found.organization_id,
            kind="patient",
            patient_id=found.patient_id,
            visit_id=found.visit_id,
        )
    else:
        token = bearer_token(request)
        cookie = request.cookies.get(identity_config(request).session_cookie)
        if token:
            actor = (await identity.resolve_access_token(session, token=token)).actor
        elif cookie:
            web = await identity.resolve_web_session(
                session, token=cookie, config=identity_config(request), touch=False
            )
            actor = web.actor
        else:
            raise NotAuthenticated("Sign in, or open the stream with a display or status link.")
        listener = _staff_or_patient(actor)
    await live_rules(request).load_facts(session, listener)
    return listener


# Not ``response_class=EventSourceResponse``: FastAPI would then expect a generator
# function, and the caller must be refused (401/404) before any streaming starts.
@public.get(
    "/events",
    response_model=None,
    response_class=Response,  # no media type of its own: only the stream is described
    summary="Live events (server-sent events)",
    responses=STREAM_RESPONSES,
)
async def events(
    request: Request,
    session: SessionDep,
    display: Secret = None,
    visit: Secret = None,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    since: Annotated[str | None, Query(max_length=100)] = None,
) -> EventSourceResponse:
    """Queue, appointment and provider-status events of the caller's organization, as
    they happen. Reconnect with ``Last-Event-ID`` to get what was missed; an event
    ``reset`` means "too much was missed: reload". Authenticated by the session cookie,
    a bearer token, ``display=<display link secret>`` or ``visit=<patient link secret>``.
    ``since``: the event id a page was rendered at (its first connection cannot send
    ``Last-Event-ID``), so nothing between rendering and connecting is lost."""
    listener = await _resolve(request, session, display, visit)
    database = get_runtime(request).db

    async def still_allowed() -> bool:
        async with database.sessionmaker() as check, unit_of_work(check):
            try:
                fresh = await _resolve(request, check, display, visit)
            except ClinicError:
                return False
        listener.permissions = fresh.permissions
        listener.facts = fresh.facts
        listener.roles = fresh.roles
        return True

    return EventSourceResponse(
        event_stream(
            last_event_id=last_event_id or since,
            select=live_rules(request).selector(listener),
            still_allowed=still_allowed,
            recheck_seconds=RECHECK_SECONDS,
        ),
        headers=STREAM_HEADERS,
    )
