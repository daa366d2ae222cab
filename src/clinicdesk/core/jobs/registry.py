"""Job kinds, their handlers and the periodic schedules, registered when the app is built.

``core`` knows no domain: a domain declares its kinds (``JobKind("mail.send",
MailPayload)``) and registers a handler for each on the application's ``JobRegistry``.
A payload is a Pydantic model, stored as JSON and validated again when the job runs.

Handlers are delivered **at least once**: a worker can die after the handler's work is
done but before the job is marked finished, and the job then runs again. Write handlers
so that a second run does no harm (check before acting, use the job id as an
idempotency key with outside services).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import Database

P = TypeVar("P", bound=BaseModel)

DEFAULT_MAX_ATTEMPTS = 8
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: weekly schedules start on Mondays


@dataclass(frozen=True, slots=True)
class JobKind(Generic[P]):
    """A kind of job: its name (stored in the row) and the model of its payload."""

    name: str
    payload: type[P]
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets besides its payload.

    ``session`` is the handler's own unit of work, scoped to the job's organization (or
    unscoped for a system job: call ``use_system_scope`` on purpose); it commits when the
    handler returns and rolls back when it raises. ``db`` opens further units of work.
    """

    job_id: uuid.UUID
    organization_id: uuid.UUID | None
    attempt: int
    run_at: datetime
    session: AsyncSession
    db: Database


Handler = Callable[[JobContext, P], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Registered(Generic[P]):
    kind: JobKind[P]
    handler: Handler[P]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A periodic job, cron-like: due at ``offset`` past every multiple of ``every``
    (counted from a Monday 00:00 UTC), e.g. ``every=timedelta(days=1),
    offset=timedelta(hours=2)`` is "daily at 02:00 UTC". A run missed while nothing was
    running is made up once, not once per missed period."""

    name: str
    kind: JobKind[Any]
    payload: BaseModel
    every: timedelta
    offset: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError(f"schedule {self.name!r}: 'every' must be positive")

    def next_due_after(self, moment: datetime) -> datetime:
        """The first due time strictly after ``moment``."""
        periods = (moment - _EPOCH - self.offset) // self.every
        return _EPOCH + self.offset + (periods + 1) * self.every

    @property
    def lock_key(self) -> int:
        """A stable 64-bit key for PostgreSQL's advisory locks."""
        digest = hashlib.sha256(f"clinicdesk.schedule:{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


class UnknownJobKind(LookupError):
    pass


@dataclass(slots=True)
class JobRegistry:
    """The handlers and schedules of one application (built by ``create_app`` and by
    ``clinicdesk worker`` alike, so both run the same jobs)."""

    _handlers: dict[str, Registered[Any]] = field(default_factory=dict)
    _schedules: dict[str, Schedule] = field(default_factory=dict)

    def register(self, kind: JobKind[P], handler: Handler[P]) -> None:
        if kind.name in self._handlers:
            raise ValueError(f"a handler for job kind {kind.name!r} is already registered")
        self._handlers[kind.name] = Registered(kind, handler)

    def handler(self, kind: JobKind[P]) -> Callable[[Handler[P]], Handler[P]]:
        """Decorator form of ``register``."""

        def decorate(function: Handler[P]) -> Handler[P]:
            self.register(kind, function)
            return function

        return decorate

    def schedule(self, schedule: Schedule) -> None:
        if schedule.name in self._schedules:
            raise ValueError(f"schedule {schedule.name!r} is already registered")
        if schedule.kind.name not in self._handlers:
            raise ValueError(f"schedule {schedule.name!r}: no handler for {schedule.kind.name!r}")
        if not isinstance(schedule.payload, schedule.kind.payload):
            raise TypeError(f"schedule {schedule.name!r}: payload is not a {schedule.kind.name}")
        self._schedules[schedule.name] = schedule

    def lookup(self, name: str) -> Registered[Any]:
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownJobKind(f"no handler is registered for job kind {name!r}") from None

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def schedules(self) -> list[Schedule]:
        return list(self._schedules.values())
