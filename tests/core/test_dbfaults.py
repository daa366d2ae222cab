"""What each database error means for the caller (``core.dbfaults.classify``), decided by
the database's own code, and what of it may be logged. The errors are the drivers' real
exception classes; the end-to-end faults are in ``test_db_faults.py``."""

from __future__ import annotations

import errno

import asyncpg  # type: ignore[import-untyped]
import pysqlite3.dbapi2 as bundled_sqlite
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from clinicdesk.core.db import Database
from clinicdesk.core.dbfaults import FaultLog, classify, describe, fault_kind


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver's error."""
    error = sa_exc.DBAPIError.instance("SELECT 1", {}, orig, Exception)
    assert isinstance(error, sa_exc.DBAPIError)
    return error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (asyncpg.exceptions.DiskFullError("could not extend file"), "full"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "unavailable"),
        (
            asyncpg.exceptions.CannotConnectNowError("the database system is starting"),
            "unavailable",
        ),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), "unavailable"),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), "unavailable"),
        (asyncpg.exceptions.SerializationError("could not serialize"), "busy"),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), "busy"),
        (asyncpg.exceptions.LockNotAvailableError("could not obtain lock"), "busy"),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), "busy"),
        (asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction"), "unavailable"),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), "conflict"),
        (asyncpg.exceptions.ExclusionViolationError("conflicting key"), "conflict"),
        (asyncpg.exceptions.NotNullViolationError("null value"), None),
        (asyncpg.exceptions.UndefinedColumnError("column does not exist"), None),
        (bundled_sqlite.OperationalError("database or disk is full"), "full"),
        (bundled_sqlite.OperationalError("database is locked"), "busy"),
        (bundled_sqlite.OperationalError("no such table: patients"), None),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), "unavailable"),
        (OSError(errno.ENOSPC, "No space left on device"), "full"),
        (FileNotFoundError(errno.ENOENT, "No such file"), None),
        (StaleDataError("UPDATE matched 0 rows"), "stale"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "busy"),
        (ValueError("a bug"), None),
    ],
)
def test_faults_are_known_by_the_databases_code(error: BaseException, kind: str | None) -> None:
    assert fault_kind(error) == kind
    if isinstance(error, asyncpg.PostgresError | bundled_sqlite.Error):
        assert fault_kind(wrapped(error)) == kind  # as SQLAlchemy raises it


def test_each_fault_has_its_status_and_retry_after() -> None:
    full = classify(wrapped(asyncpg.exceptions.DiskFullError("could not extend file")))
    assert full is not None and full.status_code == 503
    assert full.headers == {"Retry-After": "60"}  # type: ignore[attr-defined]
    assert "full" in full.detail
    busy = classify(wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock")))
    assert busy is not None and busy.status_code == 503
    assert busy.headers["Retry-After"] == "2"  # type: ignore[attr-defined]
    stale = classify(StaleDataError("UPDATE matched 0 rows"))
    assert stale is not None and (stale.status_code, stale.code) == (412, "stale-version")
    conflict = classify(wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")))
    assert conflict is not None and conflict.status_code == 409
    assert classify(ValueError("a bug")) is None


def test_only_the_code_of_an_error_is_logged() -> None:
    error = wrapped(asyncpg.exceptions.UniqueViolationError("Key (email)=(pat@example.org)"))
    described = describe(error)
    assert described == {"error_type": "DBAPIError", "db_code": "23505"}
    assert "pat@example.org" not in repr(described)


async def test_a_failed_statement_does_not_carry_its_values(db: Database) -> None:
    """Errors are logged with their message: it must not quote the statement's values."""
    async with db.engine.connect() as conn:
        with pytest.raises(sa_exc.DBAPIError) as raised:
            await conn.execute(
                text("SELECT * FROM no_such_table WHERE x = :name"), {"name": "Okonkwo"}
            )
    assert "Okonkwo" not in str(raised.value)


def test_a_full_disk_is_remembered_for_a_while() -> None:
    faults = FaultLog(hold_seconds=60)
    assert not faults.recent("full")
    faults.record("busy")
    assert not faults.recent("full")
    faults.record("full")
    assert faults.recent("full")
    assert not FaultLog(hold_seconds=0).recent("full")
