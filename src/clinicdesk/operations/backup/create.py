"""``clinicdesk backup``: the database (one consistent snapshot), every document it names,
and a manifest, in one encrypted archive, while the servers keep running.

Order matters: the database snapshot is taken first and the documents are copied after,
from the list in that snapshot. A document is stored before the row that names it is
committed and never removed while a row names it (deleting is a soft delete), so every
document of the snapshot is there to copy; documents uploaded later are simply not in
this backup, as their rows are not.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio.to_thread

from clinicdesk import __version__
from clinicdesk.config import Settings
from clinicdesk.core.storage import storage_from_settings
from clinicdesk.operations.backup import postgres, sqlite
from clinicdesk.operations.backup.archive import (
    ARCHIVE_SUFFIX,
    MANIFEST_NAME,
    ArchiveWriter,
    Manifest,
    database_member,
)
from clinicdesk.operations.backup.crypto import BackupSecret
from clinicdesk.operations.backup.documents import Progress, add_documents, no_progress
from clinicdesk.operations.backup.errors import BackupError


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    manifest: Manifest


def default_archive_name(now: datetime) -> str:
    return f"clinicdesk-{now:%Y%m%dT%H%M%SZ}{ARCHIVE_SUFFIX}"


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _add_dump(writer: ArchiveWriter, member: str, dump: Path, mtime: float) -> tuple[int, str]:
    size, sha = _hash_file(dump)
    with dump.open("rb") as handle:
        writer.add(member, handle, size, mtime)
    return size, sha


def archive_path(output: Path, now: datetime) -> Path:
    output = output.expanduser().resolve()
    if output.is_dir():
        output = output / default_archive_name(now)
    if not output.parent.is_dir():
        raise BackupError(f"The folder {output.parent} does not exist; create it first.")
    return output


async def create_backup(
    settings: Settings,
    *,
    output: Path,
    secret: BackupSecret,
    field_key_ids: Sequence[str] = (),
    on_progress: Progress = no_progress,
) -> BackupResult:
    """Write a backup of the installation ``settings`` describe to ``output`` (a file, or
    a folder to put a dated file in). Nothing is left behind if it fails."""
    now = datetime.now(UTC)
    path = archive_path(output, now)
    if path.exists():
        raise BackupError(f"{path} already exists; choose another --output.")
    try:
        storage = storage_from_settings(settings)
    except (RuntimeError, ValueError) as exc:
        raise BackupError(str(exc)) from exc
    kind = settings.database_kind
    # Private (0700), beside the archive: the copy holds patient data and may be large.
    staging = Path(tempfile.mkdtemp(prefix=".clinicdesk-backup-", dir=path.parent))
    try:
        dump = staging / "database"
        if kind == "sqlite":
            source = sqlite.database_path(settings.resolved_database_url)
            facts = await anyio.to_thread.run_sync(
                partial(
                    sqlite.snapshot,
                    source,
                    dump,
                    busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                )
            )
        else:
            facts = await postgres.snapshot(settings.migration_database_url, dump)
        if not facts.tables:
            raise BackupError(
                "The database has no tables: there is nothing to back up. Is "
                "CLINICDESK_DATABASE_URL right, and has `clinicdesk db upgrade` run?"
            )
        on_progress("database", 1, 1)
        writer = await anyio.to_thread.run_sync(ArchiveWriter, path, secret)
        try:
            mtime = now.timestamp()
            member = database_member(kind)
            size, sha = await anyio.to_thread.run_sync(_add_dump, writer, member, dump, mtime)
            copied = await add_documents(
                writer,
                storage,
                facts.documents,
                staging=staging,
                mtime=mtime,
                on_progress=on_progress,
            )
            manifest = Manifest(
                created_at=now,
                clinicdesk_version=__version__,
                alembic_revisions=facts.revisions,
                database_kind=kind,
                database_member=member,
                database_size=size,
                database_sha256=sha,
                tables=facts.tables,
                documents=copied.entries,
                document_problems=copied.problems,
                field_key_ids=list(field_key_ids),
            )
            data = manifest.model_dump_json(indent=2).encode()
            await anyio.to_thread.run_sync(writer.add_bytes, MANIFEST_NAME, data, mtime)
            archive_size = await anyio.to_thread.run_sync(writer.commit)
        except BaseException:
            writer.abort()
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupResult(path=path, size=archive_size, manifest=manifest)
