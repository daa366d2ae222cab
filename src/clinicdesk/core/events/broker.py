"""The process's event broker: a short history for replay and one queue per listener
(see the package's rules)."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

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
