"""Publishing after commit: into this process's broker (SQLite) or through
``pg_notify`` to every process's relay (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from clinicdesk.core.db import on_commit
from clinicdesk.core.events.broker import CHANNEL, NOTIFY_LIMIT_BYTES, NOTIFY_TIMEOUT_SECONDS, Event
from clinicdesk.core.events.broker import broker as process_broker

log = structlog.get_logger(__name__)


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
            process_broker().publish(event)

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
        process_broker().publish(event)


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
