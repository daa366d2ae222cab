"""Live events: what changed, handed to listeners only after the change committed.

A use case calls ``publish_after_commit(session, Event(...))``; when its transaction
commits, the event goes to the process's ``EventBroker``, which numbers it, keeps a short
history (so a reconnecting client can ask for what it missed) and gives it to every
subscriber's queue. If the transaction rolls back, nothing is published. Events carry
the organization they belong to; filtering by organization and permission is the
listener's job (the server-sent events endpoint).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import on_commit
from clinicdesk.core.models import utcnow

HISTORY = 1000
QUEUE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Event:
    organization_id: uuid.UUID
    type: str  # "appointment.booked", "queue.called", ...
    data: dict[str, Any]
    id: int = 0
    occurred_at: str = field(default_factory=lambda: utcnow().isoformat())


class EventBroker:
    """In-process fan-out with a bounded history. A subscriber that falls more than
    ``QUEUE_SIZE`` events behind loses the oldest (it can reload), never blocks others."""

    def __init__(self, history: int = HISTORY) -> None:
        self._ids = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> Event:
        numbered = Event(
            organization_id=event.organization_id,
            type=event.type,
            data=event.data,
            id=next(self._ids),
            occurred_at=event.occurred_at,
        )
        self._history.append(numbered)
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(numbered)
        return numbered

    def since(self, last_id: int) -> list[Event]:
        return [e for e in self._history if e.id > last_id]

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


_broker = EventBroker()


def broker() -> EventBroker:
    """The process's broker."""
    return _broker


def publish_after_commit(session: AsyncSession, event: Event) -> None:
    async def publish() -> None:
        _broker.publish(event)

    on_commit(session, publish)
