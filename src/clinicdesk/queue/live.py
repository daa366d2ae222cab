"""``GET /api/v1/events``: live updates as server-sent events, for every queue screen.

One stream per screen, scoped to what its credential may see:

* a signed-in staff user (session cookie, or a bearer token for API clients): their
  organization's queue, appointment and provider-status events, if they may read the
  schedule; events carry ids, tokens, statuses and rooms, never names;
* a waiting-room display (``?display=<secret>``): its location's queue events, reduced
  to token, status and room;
* a patient, by their private link (``?visit=<secret>``) or signed in to the portal:
  their own visit's events, and a content-free ``queue.changed`` when the queue they
  wait in moved (their position may have changed; the page asks for it again).

The route signs the caller in by itself (so it is on the public list): a display or a
patient link has no session. Nothing is held open in the database while streaming; the
credential is checked again every ``RECHECK_SECONDS`` and the stream ends when it no
longer holds (signed out, display revoked, link expired). Reconnecting with
``Last-Event-ID`` replays what was missed (``core.sse``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.sse import EventSourceResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.events import Event
from clinicdesk.core.models import utcnow
from clinicdesk.core.runtime import SessionDep, get_runtime
from clinicdesk.core.sse import STREAM_HEADERS, STREAM_RESPONSES, event_stream
from clinicdesk.identity.auth import bearer_token, identity_config
from clinicdesk.identity.errors import NotAuthenticated
from clinicdesk.identity.permissions import Permission
from clinicdesk.identity.service import sessions
from clinicdesk.queue.models import Visit
from clinicdesk.queue.service import links
from clinicdesk.queue.service.common import EVENT_PREFIX
from clinicdesk.queue.service.providers import PROVIDER_STATUS_EVENT
from clinicdesk.queue.vocabulary import OPEN_STATUSES

public = APIRouter(prefix="/api/v1", tags=["live"])

RECHECK_SECONDS = 30.0
_STAFF_PREFIXES = (EVENT_PREFIX, "appointment.", PROVIDER_STATUS_EVENT)
_DISPLAY_FIELDS = ("token", "status", "room", "provider_id", "location_id")
_PATIENT_FIELDS = ("visit_id", "token", "status", "room")
QUEUE_CHANGED = "queue.changed"

Secret = Annotated[str | None, Query(max_length=100)]


@dataclass(slots=True)
class Listener:
    """Who holds the stream and what they may see; refreshed at every re-check."""

    organization_id: uuid.UUID
    kind: str  # "staff" | "display" | "patient"
    permissions: frozenset[str] = frozenset()
    location_id: uuid.UUID | None = None  # display
    patient_id: uuid.UUID | None = None  # patient (portal or link)
    visit_id: uuid.UUID | None = None  # patient link: this visit only
    # The patient's open visits: where they wait and for whom (their position moves
    # when these queues move).
    waiting_at: set[tuple[uuid.UUID, uuid.UUID | None]] = field(default_factory=set)


def _only(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: data.get(key) for key in fields}


def _for_staff(listener: Listener, event: Event) -> dict[str, Any] | None:
    if Permission.SCHEDULING_READ not in listener.permissions:
        return None
    return event.data if event.type.startswith(_STAFF_PREFIXES) else None


def _for_display(listener: Listener, event: Event) -> dict[str, Any] | None:
    if not event.type.startswith(EVENT_PREFIX):
        return None
    if event.data.get("location_id") != str(listener.location_id):
        return None
    return _only(event.data, _DISPLAY_FIELDS)


def _for_patient(listener: Listener, event: Event) -> tuple[str, dict[str, Any]] | None:
    data = event.data
    own = data.get("patient_id") == str(listener.patient_id) and (
        listener.visit_id is None or data.get("visit_id") == str(listener.visit_id)
    )
    if event.type.startswith(EVENT_PREFIX) and own:
        return event.type, _only(data, _PATIENT_FIELDS)
    queues = {
        (str(location), str(provider) if provider else None)
        for location, provider in listener.waiting_at
    }
    if event.type.startswith(EVENT_PREFIX):
        touched = {
            (data.get("location_id"), data.get("provider_id")),
            (data.get("location_id"), None),
        }
        if queues & touched:
            return QUEUE_CHANGED, {}
    if event.type == PROVIDER_STATUS_EVENT and any(
        provider == data.get("provider_id") for _location, provider in queues
    ):
        return QUEUE_CHANGED, {}
    return None


def selector(listener: Listener) -> Callable[[Event], tuple[str, dict[str, Any]] | None]:
    """What of an event this listener gets: (event type, data), or None."""

    def select_event(event: Event) -> tuple[str, dict[str, Any]] | None:
        if event.organization_id != listener.organization_id:
            return None
        if listener.kind == "staff":
            data = _for_staff(listener, event)
            return (event.type, data) if data is not None else None
        if listener.kind == "display":
            data = _for_display(listener, event)
            return (event.type, data) if data is not None else None
        return _for_patient(listener, event)

    return select_event


async def _waiting_at(
    session: AsyncSession, patient_id: uuid.UUID, visit_id: uuid.UUID | None
) -> set[tuple[uuid.UUID, uuid.UUID | None]]:
    statement = select(Visit.location_id, Visit.provider_id).where(
        Visit.patient_id == patient_id,
        Visit.status.in_(OPEN_STATUSES),
        Visit.status_link_expires_at > utcnow(),
    )
    if visit_id is not None:
        statement = statement.where(Visit.id == visit_id)
    return {(location, provider) for location, provider in await session.execute(statement)}


def _staff_or_patient(actor: Actor) -> Listener:
    if actor.organization_id is None:
        raise NotAuthenticated("Sign in to an organization to follow its queue.")
    if actor.kind == ActorKind.PATIENT:
        return Listener(
            organization_id=actor.organization_id, kind="patient", patient_id=actor.patient_id
        )
    return Listener(
        organization_id=actor.organization_id, kind="staff", permissions=actor.permissions
    )


async def _resolve(
    request: Request, session: AsyncSession, display: str | None, visit: str | None
) -> Listener:
    """The listener behind the request's credential; ``NotAuthenticated`` without one."""
    if display:
        access = await links.resolve_display(session, display)
        return Listener(
            organization_id=access.organization_id, kind="display", location_id=access.location_id
        )
    if visit:
        found = await links.resolve_visit(session, visit)
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
            actor = await sessions.resolve_access_token(session, token=token)
        elif cookie:
            web = await sessions.resolve_web_session(
                session, token=cookie, config=identity_config(request), touch=False
            )
            actor = web.actor
        else:
            raise NotAuthenticated("Sign in, or open the stream with a display or status link.")
        listener = _staff_or_patient(actor)
    if listener.kind == "patient" and listener.patient_id is not None:
        listener.waiting_at = await _waiting_at(session, listener.patient_id, listener.visit_id)
    return listener


# Not ``response_class=EventSourceResponse``: FastAPI would then expect a generator
# function, and the caller must be refused (401/404) before any streaming starts.
@public.get(
    "/events",
    response_model=None,
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
        listener.waiting_at = fresh.waiting_at
        return True

    return EventSourceResponse(
        event_stream(
            last_event_id=last_event_id or since,
            select=selector(listener),
            still_allowed=still_allowed,
            recheck_seconds=RECHECK_SECONDS,
        ),
        headers=STREAM_HEADERS,
    )
