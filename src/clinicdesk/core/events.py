"""Live events: what changed, handed to listeners only after the change committed.

A use case calls ``publish_after_commit(session, Event(...))``. If the transaction rolls
back, nothing is published. When it commits, the database behind the session decides the
way out:

* **SQLite** (one process): the event goes into the process's ``EventBroker``.
* **PostgreSQL** (possibly several processes behind a proxy): the event is sent with
  ``pg_notify('clinicdesk_events', <json>)`` on a short autocommit connection, and is
  *not* published locally. Every process, the publishing one included, runs one
  ``PostgresEventRelay`` (a LISTEN connection) that puts what it receives into its
  broker. PostgreSQL hands notifications to every listener in commit order, so all
  processes hold the same events in the same order. A command-line process publishes
  this way too, so its changes reach the servers' screens.

The broker keeps a short history (``HISTORY`` events, none older than
``HISTORY_SECONDS``) so a reconnecting client can ask for what it missed. Ids are random
strings, the same in every process; replay is **by position**: ``since(last_id)`` returns
the events after that one, or ``None`` when the id is not in this process's history (too
old, from before this process started, never seen here), meaning "cannot replay: reload".

Events carry the organization they belong to and ids (never names or clinical text);
filtering by organization and permission is the listener's job (``core.sse``). An event
of type ``reset`` with no organization is for every listener: "you may have missed
events; reload your state". Logs name events by type and id, never by their data.

Everything here runs on the event loop of the process (publish from async code).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from clinicdesk.core.db import Database, on_commit
from clinicdesk.core.models import utcnow

log = structlog.get_logger(__name__)

CHANNEL = "clinicdesk_events"
HISTORY = 1000
HISTORY_SECONDS = 600.0
QUEUE_SIZE = 500
RESET = "reset"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
NOTIFY_LIMIT_BYTES = 8000
NOTIFY_TIMEOUT_SECONDS = 5.0


def new_event_id() -> str:
    """A random id (64 bits): unique across processes without coordination."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Event:
    organization_id: uuid.UUID | None  # None: a system event for every listener (reset)
    type: str  # "appointment.booked", "queue.called", ...
    data: dict[str, Any]  # ids, tokens, statuses; never names or clinical text
    id: str = field(default_factory=new_event_id)
    occurred_at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "organization_id": str(self.organization_id) if self.organization_id else None,
                "type": self.type,
                "data": self.data,
                "occurred_at": self.occurred_at,
            },
            separators=(",", ":"),
            default=str,  # UUIDs, datetimes, enums: as the text they stand for
        )

    @classmethod
    def from_json(cls, text: str) -> Event:
        """The event ``to_json`` wrote; ``ValueError`` for anything else."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("an event is a JSON object")
        event_id, kind, data = raw.get("id"), raw.get("type"), raw.get("data")
        organization, occurred_at = raw.get("organization_id"), raw.get("occurred_at")
        if not (isinstance(event_id, str) and event_id and isinstance(kind, str)):
            raise ValueError("an event has a text id and type")
        if not isinstance(data, dict) or not isinstance(occurred_at, str):
            raise ValueError("an event has a data object and a time")
        if organization is not None and not isinstance(organization, str):
            raise ValueError("an event's organization is a UUID or null")
        return cls(
            organization_id=uuid.UUID(organization) if organization else None,
            type=kind,
            data=data,
            id=event_id,
            occurred_at=occurred_at,
        )


def reset_event(reason: str) -> Event:
    """A system event for every listener: events may have been missed, reload."""
    return Event(organization_id=None, type=RESET, data={"reason": reason})


class Subscription:
    """One listener's queue, filled by the broker. A listener that falls more than
    ``size`` events behind loses the oldest (``missed`` counts them; it should reload);
    it never blocks the broker or other listeners."""

    __slots__ = ("_events", "_size", "_waiter", "closed", "missed")

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._events: deque[Event] = deque()
        self._size = size
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.missed = 0

    def __len__(self) -> int:
        return len(self._events)

    async def next(self) -> Event | None:
        """The next event, waiting for one; ``None`` once the subscription is closed.
        Cancelling the wait loses nothing."""
        while not self.closed and not self._events:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        if self.closed:
            return None
        return self._events.popleft()

    def _deliver(self, event: Event) -> None:
        if self.closed:
            return
        if len(self._events) >= self._size:
            self._events.popleft()
            self.missed += 1
        self._events.append(event)
        self._wake()

    def _close(self) -> None:
        self.closed = True
        self._events.clear()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class EventBroker:
    """In-process fan-out with a short history for replay by position."""

    def __init__(
        self,
        history: int = HISTORY,
        *,
        max_age_seconds: float = HISTORY_SECONDS,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_events = history
        self._max_age = max_age_seconds
        self._queue_size = queue_size
        self._clock = clock
        self._positions = itertools.count()
        # (position, received at, event), oldest first; _index: event id -> position.
        self._history: deque[tuple[int, float, Event]] = deque()
        self._index: dict[str, int] = {}
        self._subscriptions: set[Subscription] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def publish(self, event: Event) -> Event:
        """Append ``event`` to the history and hand it to every subscriber. An id already
        in the history is ignored (delivered once)."""
        if event.id in self._index:
            return event
        now = self._clock()
        position = next(self._positions)
        self._history.append((position, now, event))
        self._index[event.id] = position
        self._forget(now)
        for subscription in self._subscriptions:
            subscription._deliver(event)
        return event

    def reset(self, reason: str) -> Event:
        """Tell every listener (now, and on replay) that events may have been missed."""
        return self.publish(reset_event(reason))

    def since(self, last_id: str) -> list[Event] | None:
        """The events after ``last_id``, oldest first; ``None`` when ``last_id`` is not in
        the history (the caller cannot replay and must reload)."""
        self._forget(self._clock())
        position = self._index.get(last_id)
        if position is None:
            return None
        start = position - self._history[0][0] + 1
        return [event for _pos, _at, event in itertools.islice(self._history, start, None)]

    def head(self) -> str | None:
        """The id of the newest event in the history (where a fresh page starts from)."""
        return self._history[-1][2].id if self._history else None

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription for the duration of the block; always removed afterwards."""
        subscription = Subscription(self._queue_size)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def close_subscriptions(self) -> int:
        """End every current subscription (the server is stopping); how many there were."""
        subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._close()
        return len(subscriptions)

    def _forget(self, now: float) -> None:
        history = self._history
        while history and (len(history) > self._max_events or history[0][1] < now - self._max_age):
            _position, _at, old = history.popleft()
            del self._index[old.id]


_broker = EventBroker()


def broker() -> EventBroker:
    """The process's broker."""
    return _broker


# --- publishing ---------------------------------------------------------------------------


def publish_after_commit(session: AsyncSession, event: Event) -> None:
    """Publish ``event`` once the session's current transaction (or savepoint, and then
    its outer transaction) commits; drop it if it rolls back. On PostgreSQL it goes out
    through NOTIFY on the session's engine, otherwise into this process's broker."""
    bind = session.bind
    if bind is None:
        raise TypeError("publish_after_commit needs a session bound to an engine")
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind

    if engine.dialect.name == "postgresql":

        async def send() -> None:
            await notify(engine, event)

        on_commit(session, send)
    else:

        def publish() -> None:
            _broker.publish(event)

        on_commit(session, publish)


async def notify(engine: AsyncEngine, event: Event, *, channel: str = CHANNEL) -> None:
    """Send ``event`` to every process's relay with ``pg_notify`` (autocommit, so it is
    delivered at once). If that fails the event is logged and published in this process
    only: its own screens stay current; other processes miss it, as they miss anything
    while their relay is away (and a client that moves there gets ``reset``)."""
    payload = notify_payload(event)
    try:
        async with asyncio.timeout(NOTIFY_TIMEOUT_SECONDS), engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(select(func.pg_notify(channel, payload)))
    except Exception as exc:
        log.warning(
            "events.notify_failed",
            event_type=event.type,
            event_id=event.id,
            error_type=type(exc).__name__,
        )
        _broker.publish(event)


def notify_payload(event: Event) -> str:
    """The event as JSON under PostgreSQL's payload limit. Too large an event is sent with
    its data cut down to its ids (``id`` and ``*_id`` fields) and ``"trimmed": true``;
    listeners should reload what it concerns."""
    payload = event.to_json()
    size = len(payload.encode())
    if size < NOTIFY_LIMIT_BYTES:
        return payload
    log.warning("events.payload_trimmed", event_type=event.type, event_id=event.id, size=size)
    ids = {
        key: value
        for key, value in event.data.items()
        if (key == "id" or key.endswith("_id"))
        and (value is None or isinstance(value, str | uuid.UUID))
        and len(str(value)) <= 64
    }
    payload = replace(event, data={**ids, "trimmed": True}).to_json()
    if len(payload.encode()) < NOTIFY_LIMIT_BYTES:
        return payload
    return replace(event, data={"trimmed": True}).to_json()


# --- receiving (PostgreSQL) ---------------------------------------------------------------


def asyncpg_connect_args(url: str | URL) -> dict[str, Any]:
    """``asyncpg.connect`` arguments for a SQLAlchemy PostgreSQL URL, translated the way
    the engine translates it (host, port, credentials, database, ``ssl``)."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    _args, options = parsed.get_dialect()().create_connect_args(parsed)
    accepted = inspect.signature(asyncpg.connect).parameters
    # Options of SQLAlchemy's dialect (prepared_statement_cache_size, ...) are not asyncpg's.
    return {key: value for key, value in options.items() if key in accepted}


class PostgresEventRelay:
    """Feeds a broker from PostgreSQL: one dedicated connection that LISTENs on the
    events channel and publishes every notification, in the order received.

    When the connection is lost it reconnects with backoff (up to ``max_backoff``
    seconds) and then publishes a ``reset``: subscribers may have missed events. A
    connection that dies silently is found by a ``SELECT 1`` every ``heartbeat_seconds``.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        broker: EventBroker | None = None,
        channel: str = CHANNEL,
        max_backoff: float = 5.0,
        heartbeat_seconds: float = 15.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._connect_args = asyncpg_connect_args(url)
        self.broker = broker or _broker
        self.channel = channel
        self._max_backoff = max_backoff
        self._heartbeat = heartbeat_seconds
        self._connect_timeout = connect_timeout
        self._connection: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._lost.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the LISTEN connection, while there is one."""
        return self._connection.get_server_pid() if self._connection is not None else None

    async def start(self) -> None:
        """Start listening. Returns once listening, or once the first attempt failed (it
        is logged, and the relay keeps trying in the background)."""
        if self._task is not None:
            raise RuntimeError("the relay is already running")
        self._task = task = asyncio.create_task(self._run(), name="clinicdesk-event-relay")
        first_attempt = asyncio.ensure_future(self._first_attempt.wait())
        await asyncio.wait({task, first_attempt}, return_when=asyncio.FIRST_COMPLETED)
        first_attempt.cancel()
        if task.done():
            task.result()  # it failed outright: say why

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = initial = min(0.1, self._max_backoff)
        for attempt in itertools.count(1):
            try:
                connection = await self._listen()
            except Exception as exc:
                log.warning(
                    "events.relay_unavailable",
                    error_type=type(exc).__name__,
                    retry_in_seconds=backoff,
                )
                self._first_attempt.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = initial
            self._connection = connection
            if attempt > 1:
                self.broker.reset("events-reconnected")
                log.info("events.relay_reconnected", attempts=attempt)
            self._first_attempt.set()
            try:
                await self._watch(connection)
            finally:
                self._connection = None
                await self._close(connection)
            log.warning("events.relay_lost")

    async def _listen(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            **self._connect_args, timeout=self._connect_timeout
        )
        try:
            self._lost = lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(self.channel, self._receive)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def _watch(self, connection: asyncpg.Connection) -> None:
        """Return when the connection is lost."""
        lost = self._lost
        while not lost.is_set():
            try:
                async with asyncio.timeout(self._heartbeat):
                    await lost.wait()
            except TimeoutError:
                try:
                    async with asyncio.timeout(self._connect_timeout):
                        await connection.fetchval("SELECT 1")
                except Exception:
                    return

    async def _close(self, connection: asyncpg.Connection) -> None:
        try:
            await connection.close(timeout=2)
        except Exception:
            connection.terminate()
        except asyncio.CancelledError:  # stop() while closing: still stop
            connection.terminate()
            raise

    def _receive(self, _connection: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            event = Event.from_json(str(payload))
        except ValueError:
            log.warning("events.relay_bad_payload", size=len(str(payload)))
            return
        self.broker.publish(event)


@asynccontextmanager
async def receiving_events(db: Database) -> AsyncIterator[PostgresEventRelay | None]:
    """What a serving process needs to receive events, for its lifetime: on PostgreSQL a
    relay into ``broker()``; on SQLite nothing (events are published in process)."""
    if db.kind != "postgresql":
        yield None
        return
    relay = PostgresEventRelay(db.engine.url)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
