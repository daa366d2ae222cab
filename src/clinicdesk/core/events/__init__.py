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

from clinicdesk.core.events.broker import (
    CHANNEL,
    HISTORY,
    HISTORY_SECONDS,
    NOTIFY_LIMIT_BYTES,
    NOTIFY_TIMEOUT_SECONDS,
    QUEUE_SIZE,
    RESET,
    Event,
    EventBroker,
    Subscription,
    broker,
    new_event_id,
    reset_event,
)
from clinicdesk.core.events.publishing import notify, notify_payload, publish_after_commit
from clinicdesk.core.events.relay import (
    PostgresEventRelay,
    asyncpg_connect_args,
    receiving_events,
)

__all__ = [
    "CHANNEL",
    "HISTORY",
    "HISTORY_SECONDS",
    "NOTIFY_LIMIT_BYTES",
    "NOTIFY_TIMEOUT_SECONDS",
    "QUEUE_SIZE",
    "RESET",
    "Event",
    "EventBroker",
    "PostgresEventRelay",
    "Subscription",
    "asyncpg_connect_args",
    "broker",
    "new_event_id",
    "notify",
    "notify_payload",
    "publish_after_commit",
    "receiving_events",
    "reset_event",
]
