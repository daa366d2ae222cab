"""SQLite through the ``pysqlite3`` wheel, which bundles a current SQLite library.

Why not the standard ``sqlite3`` module: it links the system library, and on Debian 12 that
is SQLite 3.40.1, older than 3.51.3, the release that fixed the WAL-reset bug which can
corrupt a database in WAL mode. ``pysqlite3`` ships its own SQLite (3.53 at the time of
writing) inside the wheel, with FTS5 compiled in.

aiosqlite always opens connections with the standard module, so this module builds the
DB-API object SQLAlchemy's aiosqlite dialect expects (``create_async_engine(module=...)``)
around aiosqlite's thread bridge and ``pysqlite3``'s connect and exception classes. Errors
therefore keep their SQLAlchemy wrapping (``IntegrityError``, ``OperationalError`` ...).
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any

import aiosqlite
import pysqlite3.dbapi2 as bundled_sqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

# The release that fixed the WAL-reset corruption bug; refuse anything older.
MIN_SQLITE_VERSION = (3, 51, 3)

_EXCEPTIONS = (
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
)


def sqlite_version() -> str:
    """The version of the SQLite library ClinicDesk runs on."""
    return str(bundled_sqlite.sqlite_version)


def _connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> aiosqlite.Connection:
    def connector() -> Any:
        return bundled_sqlite.connect(database, **kwargs)

    return aiosqlite.Connection(connector, iter_chunk_size)


@cache
def bundled_aiosqlite_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DB-API module to pass as ``module=`` to ``create_async_engine`` for SQLite URLs."""
    if tuple(bundled_sqlite.sqlite_version_info) < MIN_SQLITE_VERSION:
        raise RuntimeError(
            f"SQLite {bundled_sqlite.sqlite_version} is too old (WAL-reset corruption bug); "
            f"ClinicDesk needs {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer"
        )
    driver = types.ModuleType("clinicdesk_aiosqlite")
    for name in _EXCEPTIONS:
        setattr(driver, name, getattr(bundled_sqlite, name))
    driver.sqlite_version = bundled_sqlite.sqlite_version  # type: ignore[attr-defined]
    driver.sqlite_version_info = bundled_sqlite.sqlite_version_info  # type: ignore[attr-defined]
    driver.Connection = aiosqlite.Connection  # type: ignore[attr-defined]
    driver.connect = _connect  # type: ignore[attr-defined]
    driver.__version__ = aiosqlite.__version__  # type: ignore[attr-defined]
    return AsyncAdapt_aiosqlite_dbapi(driver, bundled_sqlite)
