"""SQLite: a consistent copy of a live database, its facts, its installation and checks.

The copy is made with SQLite's online backup API in a single step, which reads the whole
database inside one read transaction: in WAL mode writers carry on meanwhile, and the
copy is exactly the database as of that transaction's start, every commit acknowledged
before it included. (A copy in several steps would start over whenever another connection
writes, and a plain file copy can tear a page that is being written.)

Runs synchronously through ``pysqlite3``, the same bundled library as the server; callers
put it in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pysqlite3.dbapi2 as bundled_sqlite
from sqlalchemy.engine import make_url

from clinicdesk.core.keys import ensure_private_dir
from clinicdesk.operations.backup.errors import BackupError, TargetNotEmpty

# The table of patient documents (patients.models.Document), read as plain rows: a backup
# copies every document a row names. Named here rather than imported, as the patients'
# models are theirs alone (tests/operations check the name and columns still match).
DOCUMENTS_TABLE = "patient_documents"
DOCUMENTS_COLUMNS = ("storage_key", "sha256", "size_bytes")


@dataclass
class DatabaseFacts:
    """What a backup records about the database, read from the snapshot itself."""

    tables: dict[str, int]
    revisions: list[str]
    documents: list[tuple[str, str, int]] = field(default_factory=list)
    """(storage key, SHA-256, size) of every document row, deleted ones included."""


def database_path(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"Cannot back up the SQLite database {url!r}: it is not a file path.")
    return Path(name)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_facts(connection: Any) -> DatabaseFacts:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    counts = {
        name: int(connection.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])  # noqa: S608 - names come from sqlite_schema
        for name in tables
    }
    revisions = (
        sorted(r[0] for r in connection.execute("SELECT version_num FROM alembic_version"))
        if "alembic_version" in counts
        else []
    )
    documents = (
        [
            (str(key), str(sha), int(size))
            for key, sha, size in connection.execute(
                f"SELECT {', '.join(DOCUMENTS_COLUMNS)} FROM {DOCUMENTS_TABLE} "  # noqa: S608 - constants
                "ORDER BY storage_key"
            )
        ]
        if DOCUMENTS_TABLE in counts
        else []
    )
    return DatabaseFacts(tables=counts, revisions=revisions, documents=documents)


def snapshot(source: Path, target: Path, *, busy_timeout_ms: int) -> DatabaseFacts:
    """Copy the live database at ``source`` to ``target`` (a new file) and read its facts
    from the copy, so they describe exactly what was copied."""
    if not source.is_file():
        raise BackupError(f"There is no database at {source}; check CLINICDESK_DATA_DIR.")
    live = bundled_sqlite.connect(
        source.as_uri() + "?mode=rw", uri=True, timeout=busy_timeout_ms / 1000
    )
    try:
        copy = bundled_sqlite.connect(str(target))
        try:
            live.backup(copy)  # pages=-1: the whole database in one step
            # A self-contained file (no -wal beside it); the server switches WAL on again.
            copy.execute("PRAGMA journal_mode=DELETE")
            return read_facts(copy)
        finally:
            copy.close()
    except bundled_sqlite.Error as exc:
        raise BackupError(f"Could not copy the SQLite database {source}: {exc}") from exc
    finally:
        live.close()


def facts_of(path: Path) -> DatabaseFacts:
    connection = bundled_sqlite.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        return read_facts(connection)
    finally:
        connection.close()


def is_live(path: Path) -> bool:
    """Whether ``path`` holds a database with any table (a file that is not a database
    counts as live too: it is something a restore would destroy)."""
    if not path.exists():
        return False
    try:
        connection = bundled_sqlite.connect(path.as_uri() + "?mode=ro", uri=True)
        try:
            row = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        finally:
            connection.close()
    except bundled_sqlite.Error:
        return True
    return bool(row[0])


def check_target(path: Path, *, force: bool) -> None:
    if not force and is_live(path):
        raise TargetNotEmpty(
            f"{path} already holds a database. Restore into an empty data directory, or "
            "stop the server and pass --force to replace it (the current files are kept "
            "beside it, renamed *.replaced-<time>)."
        )


def install(staged: Path, target: Path, *, force: bool) -> list[Path]:
    """Put the restored database file in place; with ``force``, move what was there aside
    first (never deleted). Returns the paths things were moved to."""
    check_target(target, force=force)
    ensure_private_dir(target.parent)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        existing = target.with_name(target.name + suffix)
        if existing.exists():
            aside = existing.with_name(f"{existing.name}.replaced-{stamp}")
            existing.rename(aside)
            moved.append(aside)
    incoming = target.with_name(f".{target.name}.restoring")
    incoming.unlink(missing_ok=True)
    shutil.copyfile(staged, incoming)
    incoming.chmod(0o600)
    with incoming.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(incoming, target)
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return moved


def integrity_problems(path: Path) -> list[str]:
    """SQLite's own checks: every page and index (integrity_check) and every reference
    (foreign_key_check)."""
    connection = bundled_sqlite.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        problems = [] if result == ["ok"] else [f"integrity_check: {line}" for line in result[:20]]
        broken = connection.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            problems.append(
                f"foreign_key_check: {len(broken)} broken reference(s), first in table "
                f"{broken[0][0]}"
            )
        return problems
    finally:
        connection.close()
