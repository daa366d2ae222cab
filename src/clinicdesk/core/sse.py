"""Server-sent events: the ``text/event-stream`` of live events for one client.

The route decides who is calling and what they may see (this module knows no domain);
``event_stream`` does the rest::

    @router.get("/events", responses=STREAM_RESPONSES)
    async def events(request: Request, ...) -> EventSourceResponse:
        listener = ...  # resolve the credential; refuse (401/403) before streaming
        return EventSourceResponse(
            event_stream(
                last_event_id=request.headers.get("last-event-id"),
                select=...,        # Event -> what this client gets, or None
                still_allowed=..., # async () -> bool: does the credential still hold?
            ),
            headers=STREAM_HEADERS,
        )

Return the response; do not declare ``response_class=EventSourceResponse``: FastAPI
(0.165) then takes the route for a generator of items to encode and fails on a route
that returns a response. ``STREAM_RESPONSES`` documents the content type instead.

``select(event)`` filters and projects per client. It returns ``None`` (not for this
client), a ``dict`` (the data; the event keeps its type), a ``(type, data)`` pair, or a
``fastapi.sse.ServerSentEvent`` (its ``event`` defaults to the event's type). The ``id:``
sent is always the event's id, so replay works whatever ``select`` returns. ``reset``
events are for every client and do not go through ``select``.

What the client receives, in order:

* ``retry: <ms>`` -- how long a browser waits before reconnecting;
* when it reconnected with ``Last-Event-ID``: the events it missed, or, when they cannot
  be replayed (too old, or from before this process started), an event ``reset``;
* then each event as it happens: ``id: <event id>``, ``event: <type>``, ``data: <json>``;
* ``reset`` (data ``{"reason": ...}``) at any time: events were lost (the client fell
  behind, or this process lost its PostgreSQL listener). Reload the state shown.
* ``: ping`` comments when idle (proxies keep the connection; a dead client is noticed);
* ``end`` (data ``{"reason": "access-ended"}``) when ``still_allowed()`` turned false
  (re-checked every ``recheck_seconds``): the stream closes; do not reconnect (close the
  ``EventSource``; reload the page, which asks for sign-in again).

When the server stops, open streams simply close; ``EventSource`` reconnects after
``retry`` with ``Last-Event-ID`` (maybe to another process, which replays: all processes
hold the same events in the same order). A page that cannot hold a stream (the
``EventSource`` ends up closed, or is not available) polls every
``POLL_FALLBACK_SECONDS`` instead. A page may pass ``broker().head()`` along with the
state it rendered, and use it as the first ``last_event_id``, so nothing between
rendering and connecting is lost.

A stream holds one subscription (a small queue) and no task of its own; a client that
disconnects ends the generator, which unsubscribes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

import structlog
from fastapi.encoders import jsonable_encoder
from fastapi.sse import KEEPALIVE_COMMENT, ServerSentEvent, format_sse_event

from clinicdesk.core import events
from clinicdesk.core.db import Database
from clinicdesk.core.dbfaults import describe, is_database_fault
from clinicdesk.core.events import RESET, Event, EventBroker

log = structlog.get_logger(__name__)

Selected = ServerSentEvent | dict[str, Any] | tuple[str, dict[str, Any]] | None
Selector = Callable[[Event], Selected]

END = "end"
POLL_FALLBACK_SECONDS = 30
# no-store: no cache keeps a copy; X-Accel-Buffering: nginx passes each event on at once.
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
# For the route's OpenAPI description.
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Server-sent events", "content": {"text/event-stream": {}}}
}


async def event_stream(
    *,
    last_event_id: str | None,
    select: Selector,
    still_allowed: Callable[[], Awaitable[bool]],
    recheck_seconds: float = 30.0,
    keepalive_seconds: float = 15.0,
    retry_ms: int = 5000,
    broker: EventBroker | None = None,
) -> AsyncGenerator[bytes, None]:
    """The wire bytes of one client's stream (see the module docstring), until the
    credential no longer holds, the server stops, or the client goes away."""
    source = broker or events.broker()
    loop = asyncio.get_running_loop()
    # Subscribe first, then read the history, with no await in between: every event is
    # either in the replay or in the queue (never neither; a repeat is skipped).
    with source.subscribe() as subscription:
        replay = source.since(last_event_id) if last_event_id else []
        head = source.head()
        yield format_sse_event(retry=retry_ms)
        if replay is None:
            yield _reset(head, "not-in-history")
            replay = []
        replayed = {e.id for e in replay}
        for missed in replay:
            chunk = _render(missed, select)
            if chunk is not None:
                yield chunk
        last_sent = loop.time()
        next_check = last_sent + recheck_seconds
        while True:
            wait = min(next_check, last_sent + keepalive_seconds) - loop.time()
            event: Event | None = None
            if wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        event = await subscription.next()
                except TimeoutError:
                    pass
                else:
                    if event is None:
                        return  # closed: the server is stopping; the client reconnects
            if subscription.missed:
                subscription.missed = 0
                yield _reset(None, "fell-behind")
                last_sent = loop.time()
            if event is not None and replayed:
                if event.id in replayed:
                    event = None
                else:
                    replayed = set()  # the queue has moved past the replay
            if event is not None:
                chunk = _render(event, select)
                if chunk is not None:
                    yield chunk
                    last_sent = loop.time()
            if loop.time() >= next_check:
                if not await _still_allowed(still_allowed):
                    yield format_sse_event(event=END, data_str=_json({"reason": "access-ended"}))
                    return
                next_check = loop.time() + recheck_seconds
            if loop.time() - last_sent >= keepalive_seconds:
                yield KEEPALIVE_COMMENT
                last_sent = loop.time()


async def _still_allowed(check: Callable[[], Awaitable[bool]]) -> bool:
    """The access check, unless the database cannot answer it right now (away, busy):
    then the stream goes on and asks again at the next check. Ending it would not help
    the listener: a browser's EventSource gives up for good on the 503 its reconnect
    would get, and access was confirmed at the previous check."""
    try:
        return await check()
    except Exception as error:
        if not is_database_fault(error):
            raise
        log.warning("sse.recheck_deferred", **describe(error))
        return True


def _json(data: Any) -> str:
    return json.dumps(jsonable_encoder(data), separators=(",", ":"), ensure_ascii=False)


def _reset(event_id: str | None, reason: str) -> bytes:
    # The id moves the client's Last-Event-ID to "now", so its next reconnect replays
    # from here instead of asking for a reset again.
    return format_sse_event(event=RESET, data_str=_json({"reason": reason}), id=event_id)


def _render(event: Event, select: Selector) -> bytes | None:
    if event.type == RESET and event.organization_id is None:
        return format_sse_event(event=RESET, data_str=_json(event.data), id=event.id)
    chosen = select(event)
    if chosen is None:
        return None
    if isinstance(chosen, ServerSentEvent):
        if chosen.raw_data is not None:
            data: str | None = chosen.raw_data
        else:
            data = _json(chosen.data) if chosen.data is not None else None
        return format_sse_event(
            data_str=data,
            event=chosen.event or event.type,
            id=event.id,
            retry=chosen.retry,
            comment=chosen.comment,
        )
    kind, payload = chosen if isinstance(chosen, tuple) else (event.type, chosen)
    if "\n" in kind or "\r" in kind:
        raise ValueError("an event type is a single line")
    return format_sse_event(data_str=_json(payload), event=kind, id=event.id)


# --- the application's lifetime -----------------------------------------------------------


@asynccontextmanager
async def live_updates(db: Database, *, broker: EventBroker | None = None) -> AsyncIterator[None]:
    """For the application's lifespan: receive events (the PostgreSQL relay when ``db``
    is PostgreSQL) and end the open streams as soon as the server is told to stop."""
    async with events.receiving_events(db):
        with _streams_end_on_stop_signal(broker or events.broker()):
            yield


@contextmanager
def _streams_end_on_stop_signal(broker: EventBroker) -> Iterator[None]:
    """uvicorn, told to stop, waits for open responses to finish, and a stream never
    finishes by itself. So a stop signal (SIGTERM, SIGINT) also closes every subscription:
    the streams end cleanly and at once, and browsers reconnect elsewhere or after the
    restart. The server's own handler still runs first; it is chained, never replaced,
    and only where the server installed one (a default action stays as it is). The
    server's graceful-shutdown timeout (``clinicdesk serve``) bounds anything else."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    chained: dict[signal.Signals, tuple[SignalHandler, SignalHandler]] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if callable(previous):
            handler = _chained(previous, lambda: broker.close_subscriptions(), loop)
            signal.signal(signum, handler)
            chained[signum] = (handler, previous)
    try:
        yield
    finally:
        for signum, (handler, previous) in chained.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, previous)


SignalHandler = Callable[[int, FrameType | None], Any]


def _chained(
    server_handler: SignalHandler, action: Callable[[], object], loop: asyncio.AbstractEventLoop
) -> SignalHandler:
    def handler(number: int, frame: FrameType | None) -> None:
        # A signal handler may interrupt the loop anywhere: hand the work to the loop.
        if not loop.is_closed():
            loop.call_soon_threadsafe(action)
        server_handler(number, frame)

    return handler
