"""Reference data: code lists every organization shares (ICD-10-CM, the drug vocabulary),
filled from installed packages after the schema is made, not by the migrations.

Why not in the migrations: filling them takes ~6 s of CPU (extracting ICD-10-CM from the
package's XML alone ~4 s), which made the first ``clinicdesk serve`` take 8 s to answer.
The migrations make the empty tables (and their indexes); then

* ``clinicdesk db upgrade`` fills what is empty before it returns, so an upgrade an admin
  runs is complete when the command is;
* ``clinicdesk serve`` and ``worker`` on SQLite, which migrate by themselves, answer first
  and fill the lists in a child process (``clinicdesk db load-reference-data``), which
  keeps the ~200 MB the extraction needs out of the server;
* the demo fills them before it seeds (its consultations carry codes and drugs).

Until a list is filled, what needs it refuses with 503 and ``Retry-After``
(``ReferenceDataLoading``): a code search never answers "no match", and a prescription is
never saved with its safety checks skipped, just because the list is not there yet.

Each list is filled in one transaction, so a list is filled exactly when its table has a
row: a stop halfway leaves it empty, and the next start fills it again. Two processes
filling at once (two servers starting, or a server and ``db upgrade``) are serialized by
the table lock (PostgreSQL) or the write lock (SQLite, ``BEGIN IMMEDIATE``); the second
finds the table filled and leaves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import Database
from clinicdesk.core.dbfaults import DatabaseFault

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReferenceList:
    """One code list. ``read`` extracts its rows from the package (seconds of CPU, before
    any transaction: no lock is held meanwhile); ``fill`` inserts them through
    ``connection`` (inside the transaction this module opens) and returns how many rows
    ``table`` got."""

    name: str  # what a person calls it: "the ICD-10-CM codes"
    table: str  # filled exactly when this table has a row
    read: Callable[[], Any]
    fill: Callable[[Connection, Any], int]


class ReferenceDataLoading(DatabaseFault):
    title = "A code list is still loading"
    code = "reference-data-loading"
    retry_after_seconds: ClassVar[int] = 30
    default_detail = (
        "A code list is still being loaded after the first start (this takes about a "
        "minute). Nothing was saved; try again shortly."
    )


# Once seen filled, a list stays filled for the life of the process: one look each.
_seen_filled: set[str] = set()


async def require_filled(session: AsyncSession, reference: ReferenceList) -> None:
    """Refuse (503) while ``reference`` is not filled yet."""
    if reference.table in _seen_filled:
        return
    found = await session.scalar(text(f"SELECT 1 FROM {reference.table} LIMIT 1"))  # noqa: S608 - a constant
    if found is None:
        raise ReferenceDataLoading(
            f"{reference.name[0].upper()}{reference.name[1:]} are still being loaded after "
            "the first start (about a minute). Nothing was saved; try again shortly."
        )
    _seen_filled.add(reference.table)


def _is_filled(connection: Connection, reference: ReferenceList) -> bool:
    query = text(f"SELECT 1 FROM {reference.table} LIMIT 1")  # noqa: S608 - a constant
    return connection.execute(query).first() is not None


def _missing(connection: Connection, lists: Sequence[ReferenceList]) -> list[ReferenceList]:
    return [reference for reference in lists if not _is_filled(connection, reference)]


async def missing(db: Database, lists: Sequence[ReferenceList]) -> list[ReferenceList]:
    """The lists whose tables are still empty (one cheap query each)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_missing, lists)


Filled = Callable[[ReferenceList, int, float], None]


def _fill_missing(
    connection: Connection, lists: Sequence[ReferenceList], on_filled: Filled | None
) -> list[str]:
    filled: list[str] = []
    for reference in lists:
        started = time.perf_counter()
        with connection.begin():
            if _is_filled(connection, reference):
                continue
        rows_read = reference.read()
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # Held to the commit: a second filler waits here, then finds rows.
                connection.execute(text(f"LOCK TABLE {reference.table} IN EXCLUSIVE MODE"))
            if _is_filled(connection, reference):
                continue  # another process filled it while this one was reading
            rows = reference.fill(connection, rows_read)
        seconds = time.perf_counter() - started
        log.info("reference_data_filled", list=reference.table, rows=rows, seconds=seconds)
        if on_filled is not None:
            on_filled(reference, rows, seconds)
        filled.append(reference.table)
    return filled


async def fill_missing(
    db: Database, lists: Sequence[ReferenceList], *, on_filled: Filled | None = None
) -> list[str]:
    """Fill every list whose table is empty, each in its own transaction; the tables
    filled. ``db`` must be allowed to write them (on PostgreSQL the tables' owner: the
    application role only reads them)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_fill_missing, lists, on_filled)
