"""Database faults as expected errors: what a failure of the database means for the caller.

One classification (``classify``) serves every caller: the request handlers, the jobs
runner and the live-event stream. It decides by what the database said (PostgreSQL's
SQLSTATE, SQLite's result code), never by the statement, so nothing of the data leaks:

* **stale** -- the ORM's version check found the row changed (``StaleDataError``): the same
  412 as an ``If-Match`` that no longer matches. On PostgreSQL two writers can both pass
  ``check_version`` on the same read; the second UPDATE then matches no row.
* **unavailable** -- the server is away, restarting, refusing connections or failing over
  (connection refused or lost, SQLSTATE classes 08 and 57P0x, read-only standby): 503.
* **busy** -- the work lost to another transaction and may simply be tried again: SQLite's
  lock wait ran out, the pool had no free connection in time, PostgreSQL cancelled a lock
  wait, or chose this transaction as a deadlock or serialization victim: 503 with a short
  ``Retry-After``. Why not retry the unit of work here: a request is not replayable
  (its body is read, its rate-limit counts and stored files are outside the transaction),
  and ClinicDesk runs READ COMMITTED, where these are rare; the client's retry is safe
  because nothing was saved.
* **full** -- the disk or the database file is full (SQLITE_FULL, SQLSTATE 53100): 503, and
  readiness reports it for a while (``FaultLog``), since the next write will fail too.
* **conflict** -- a unique, exclusion or foreign-key constraint refused a write that raced
  another (two registrations of one key, a row deleted meanwhile): 409.

Anything else (a syntax error, a NOT NULL violation) is a bug and stays a 500.

The one other store a request depends on, Redis for sign-in attempt counts, is answered
the same way when it is away (503, ``ThrottleUnavailable``).
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from limits.errors import StorageError
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from clinicdesk.core.errors import (
    ClinicError,
    Conflict,
    PreconditionFailed,
    ProblemRenderer,
    problem_for,
)

log = structlog.get_logger(__name__)

FaultKind = Literal["stale", "unavailable", "busy", "full", "conflict"]

STALE_MESSAGE = "Someone else changed this record since you opened it. Reload and try again."


class DatabaseFault(ClinicError):
    """The database cannot do the work right now; nothing was saved. Answered 503 with
    ``Retry-After``."""

    status_code = 503
    retry_after_seconds: ClassVar[int] = 5

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or self.default_detail, retry_after_seconds=self.retry_after_seconds
        )
        self.headers: dict[str, str] = {"Retry-After": str(self.retry_after_seconds)}

    default_detail: ClassVar[str] = ""


class DatabaseUnavailable(DatabaseFault):
    title = "The database is unavailable"
    code = "database-unavailable"
    retry_after_seconds = 5
    default_detail = (
        "The database cannot be reached at the moment, so nothing was saved. "
        "Try again in a few seconds; if it lasts, tell the administrator."
    )


class DatabaseBusy(DatabaseFault):
    title = "The database is busy"
    code = "database-busy"
    retry_after_seconds = 2
    default_detail = (
        "The database was busy with other changes and this one could not wait longer, "
        "so nothing was saved. Try again in a moment."
    )


class DatabaseFull(DatabaseFault):
    title = "The database is full"
    code = "database-full"
    retry_after_seconds = 60
    default_detail = (
        "The database is full (no disk space is left), so nothing was saved. "
        "Tell the administrator: space must be freed before changes can be saved again."
    )


class ThrottleUnavailable(DatabaseFault):
    """The store of sign-in attempt counts (Redis) cannot be reached. The attempt is
    refused rather than let through uncounted: throttling is what stops password guessing."""

    title = "Signing in is unavailable for a moment"
    code = "throttle-unavailable"
    retry_after_seconds = 10
    default_detail = (
        "Sign-in attempts cannot be checked at the moment, so nothing was done. "
        "Try again in a few seconds; if it lasts, tell the administrator."
    )


class DuplicateWrite(Conflict):
    title = "Conflicts with another change"
    code = "conflict"


_FAULTS: Mapping[FaultKind, type[DatabaseFault]] = {
    "unavailable": DatabaseUnavailable,
    "busy": DatabaseBusy,
    "full": DatabaseFull,
}

# PostgreSQL SQLSTATEs, by code and by class (the first two characters).
_PG_STATES: Mapping[str, FaultKind] = {
    "53100": "full",  # disk_full ("could not extend file")
    "53200": "busy",  # out_of_memory
    "53300": "unavailable",  # too_many_connections
    "57P01": "unavailable",  # admin_shutdown: the server is stopping or restarting
    "57P02": "unavailable",  # crash_shutdown
    "57P03": "unavailable",  # cannot_connect_now: starting up or in recovery
    "57P05": "unavailable",  # idle_session_timeout
    "57014": "busy",  # query_canceled (statement or lock timeout)
    "55P03": "busy",  # lock_not_available
    "40001": "busy",  # serialization_failure
    "40P01": "busy",  # deadlock_detected
    "25006": "unavailable",  # read_only_sql_transaction: a standby after failover
    "23505": "conflict",  # unique_violation
    "23P01": "conflict",  # exclusion_violation
    "23503": "conflict",  # foreign_key_violation
}
_PG_CLASSES: Mapping[str, FaultKind] = {"08": "unavailable", "53": "busy", "58": "unavailable"}

# SQLite primary result codes (an extended code's name starts with its primary's).
_SQLITE_CODES: Mapping[str, FaultKind] = {
    "SQLITE_FULL": "full",
    "SQLITE_BUSY": "busy",
    "SQLITE_LOCKED": "busy",
    "SQLITE_IOERR": "unavailable",
    "SQLITE_CANTOPEN": "unavailable",
    "SQLITE_READONLY": "unavailable",
    "SQLITE_NOMEM": "busy",
    "SQLITE_CONSTRAINT_UNIQUE": "conflict",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "conflict",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "conflict",
}
# Without a result code (an older driver), by the message SQLite always uses.
_SQLITE_MESSAGES: Mapping[str, FaultKind] = {
    "database or disk is full": "full",
    "database is locked": "busy",
    "database table is locked": "busy",
    "disk i/o error": "unavailable",
    "unable to open database file": "unavailable",
}


def _causes(error: BaseException) -> list[BaseException]:
    """The error, the driver's error SQLAlchemy wrapped, and what that one wraps."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 5 and current not in chain:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return chain


def _kind_of_driver_error(error: BaseException) -> FaultKind | None:
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return _PG_STATES.get(sqlstate) or _PG_CLASSES.get(sqlstate[:2])
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        for prefix, kind in _SQLITE_CODES.items():
            if name == prefix or name.startswith(prefix + "_"):
                return kind
    message = str(error).lower()
    for text, kind in _SQLITE_MESSAGES.items():
        if message.startswith(text):
            return kind
    if isinstance(error, ConnectionError | socket.gaierror):
        # Raised as is (not wrapped) when a new connection cannot be opened.
        return "unavailable"
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "full"  # a stored file (an uploaded document) on a full disk
    return None


def fault_kind(error: BaseException) -> FaultKind | None:
    """What ``error`` means, if it is a database fault a caller should expect."""
    if isinstance(error, StaleDataError):
        return "stale"
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return "busy"
    if isinstance(error, sa_exc.DisconnectionError):
        return "unavailable"
    for cause in _causes(error):
        kind = _kind_of_driver_error(cause)
        if kind is not None:
            return kind
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return "unavailable"
    return None


def is_database_fault(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot do the work right now (away, busy or
    full) -- not a bug, and not an answer about the data: long-running work waits and
    tries again instead of failing."""
    return fault_kind(error) in ("unavailable", "busy", "full")


def classify(error: BaseException) -> ClinicError | None:
    """The expected error ``error`` stands for, or None when it is a bug."""
    if isinstance(error, StorageError):
        return ThrottleUnavailable()
    kind = fault_kind(error)
    if kind is None:
        return None
    if kind == "stale":
        return PreconditionFailed(STALE_MESSAGE)
    if kind == "conflict":
        return DuplicateWrite(
            "This change conflicts with another one saved at the same time (the same "
            "record, or one it refers to, was just created, changed or removed). "
            "Reload and check before trying again."
        )
    return _FAULTS[kind]()


def describe(error: BaseException) -> dict[str, Any]:
    """What may be logged about a database error: its type and the database's code, never
    the message (it may quote values) or the statement's parameters."""
    described: dict[str, Any] = {"error_type": type(error).__name__}
    for cause in _causes(error)[1:]:
        code = getattr(cause, "sqlstate", None) or getattr(cause, "sqlite_errorname", None)
        if isinstance(code, str):
            described["db_code"] = code
            break
    return described


@dataclass(slots=True)
class FaultLog:
    """Recent faults that a ``SELECT 1`` cannot see, for readiness: a full disk still
    answers reads, and only the next write finds out. Per process; kept ``hold_seconds``
    after the last one (a write that fits in free pages proves nothing)."""

    hold_seconds: float = 60.0
    _last: dict[str, float] = field(default_factory=dict)

    def record(self, kind: FaultKind) -> None:
        if kind == "full":
            self._last[kind] = time.monotonic()

    def recent(self, kind: FaultKind) -> bool:
        seen = self._last.get(kind)
        return seen is not None and time.monotonic() - seen < self.hold_seconds

    def clear(self) -> None:
        self._last.clear()


def _route(request: Request) -> str:
    # The route's template, not the path: a path may carry an identifier.
    return str(getattr(request.scope.get("route"), "path", "?"))


def install_fault_handlers(
    app: FastAPI, renderer: ProblemRenderer, *, postgresql: bool = True
) -> None:
    """Answer database faults (``classify``) like any expected error: problem+json for
    API clients, the error page for browsers. What is not a fault is raised on, and
    ``RequestContextMiddleware`` answers it as the bug it is (500). asyncpg's own errors
    are answered when the application is on PostgreSQL (``postgresql``); on SQLite none
    can be raised, and asyncpg is not loaded for them (5 MiB per process)."""

    async def database_fault(request: Request, exc: Exception) -> Response:
        error = classify(exc)
        if error is None:
            raise exc
        level = log.warning if isinstance(error, DatabaseFault) else log.info
        level("db.fault", kind=error.code, route=_route(request), **describe(exc))
        return renderer.respond(
            request, problem_for(request, error), getattr(error, "headers", None)
        )

    raised: list[type[Exception]] = [sa_exc.SQLAlchemyError, OSError, StorageError]
    if postgresql:
        from asyncpg.exceptions import PostgresError  # type: ignore[import-untyped]

        raised.append(PostgresError)
    for kind in raised:
        app.add_exception_handler(kind, database_fault)
