"""Receiving on PostgreSQL: one LISTEN connection per process feeds its broker.

asyncpg is imported when a relay is made: a server on SQLite never loads it (5 MiB)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.engine import URL, make_url

from clinicdesk.core.db import Database
from clinicdesk.core.events.broker import CHANNEL, Event, EventBroker
from clinicdesk.core.events.broker import broker as process_broker

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

log = structlog.get_logger(__name__)


def asyncpg_connect_args(url: str | URL) -> dict[str, Any]:
    """``asyncpg.connect`` arguments for a SQLAlchemy PostgreSQL URL, translated the way
    the engine translates it (host, port, credentials, database, ``ssl``)."""
    import asyncpg  # PostgreSQL only (module docstring)

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
        self.broker = broker or process_broker()
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
        import asyncpg  # PostgreSQL only (module docstring)

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
