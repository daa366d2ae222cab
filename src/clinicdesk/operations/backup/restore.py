"""``clinicdesk restore``: an archive back into an empty data directory or database.

The whole archive is decrypted, authenticated and checked against its manifest in a
private staging directory before anything is installed, so a damaged or altered archive
changes nothing. Then the documents go into the storage (through its interface, under
their own keys) and the database last: a restored database always has its documents.
A target that already holds data is refused unless ``force`` is given.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio.to_thread

from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.keys import ensure_private_dir
from clinicdesk.core.storage import DocumentStorage, LocalDirectoryStorage, storage_from_settings
from clinicdesk.operations.backup import postgres, sqlite
from clinicdesk.operations.backup.archive import (
    DatabaseKind,
    ExtractedArchive,
    Manifest,
    extract_archive,
)
from clinicdesk.operations.backup.crypto import BackupSecret
from clinicdesk.operations.backup.documents import Progress, no_progress, put_documents
from clinicdesk.operations.backup.errors import BackupError, TargetNotEmpty


@dataclass(frozen=True, slots=True)
class RestoreTarget:
    """Where a restore puts things."""

    kind: DatabaseKind
    database_url: str
    storage: DocumentStorage
    staging_parent: Path
    """Where the archive is unpacked first (private, removed afterwards)."""
    grant_to: str | None = None


def target_from_settings(settings: Settings) -> RestoreTarget:
    try:
        storage = storage_from_settings(settings)
    except (RuntimeError, ValueError) as exc:
        raise BackupError(str(exc)) from exc
    kind = settings.database_kind
    return RestoreTarget(
        kind=kind,
        database_url=(
            settings.resolved_database_url if kind == "sqlite" else settings.migration_database_url
        ),
        storage=storage,
        staging_parent=settings.data_dir,
        grant_to=settings.application_role,
    )


async def check_target(target: RestoreTarget, *, force: bool) -> None:
    """Refuse a target that holds data, unless ``force``; cheap, so it runs before the
    archive is even opened."""
    if target.kind == "sqlite":
        path = sqlite.database_path(target.database_url)
        await anyio.to_thread.run_sync(partial(sqlite.check_target, path, force=force))
    else:
        await postgres.check_target(target.database_url, force=force)
    storage = target.storage
    if (
        not force
        and isinstance(storage, LocalDirectoryStorage)
        and storage.root.is_dir()
        and any(p.is_file() for p in storage.root.rglob("*"))
    ):
        raise TargetNotEmpty(
            f"The documents folder {storage.root} is not empty. Restore into an empty data "
            "directory, or pass --force to add the backup's documents to it."
        )


def unknown_revisions(revisions: list[str]) -> list[str]:
    # Alembic is loaded by a restore, not by every command (``clinicdesk serve`` imports
    # this module too): see ``core.migrations``.
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(migrations.alembic_config())
    unknown = []
    for revision in revisions:
        try:
            if script.get_revision(revision) is None:
                unknown.append(revision)
        except CommandError:
            unknown.append(revision)
    return unknown


async def extract(archive: Path, secret: BackupSecret, staging: Path) -> ExtractedArchive:
    extracted = await anyio.to_thread.run_sync(extract_archive, archive, secret, staging)
    unknown = unknown_revisions(extracted.manifest.alembic_revisions)
    if unknown:
        raise BackupError(
            f"The backup's database is at revision {', '.join(unknown)}, which this ClinicDesk "
            f"does not know: it was made by a newer version "
            f"({extracted.manifest.clinicdesk_version}). Restore it with that version."
        )
    return extracted


async def install(
    extracted: ExtractedArchive,
    target: RestoreTarget,
    *,
    force: bool,
    on_progress: Progress = no_progress,
) -> list[Path]:
    """Documents into the storage, then the database; returns files moved aside."""
    manifest = extracted.manifest
    if manifest.database_kind != target.kind:
        raise BackupError(
            f"The archive holds a {manifest.database_kind} database, but the target is "
            f"{target.kind}. Restore it into a {manifest.database_kind} installation "
            "(CLINICDESK_DATABASE_URL)."
        )
    await put_documents(
        target.storage, manifest.documents, extracted.documents_dir, on_progress=on_progress
    )
    if target.kind == "sqlite":
        path = sqlite.database_path(target.database_url)
        return await anyio.to_thread.run_sync(
            partial(sqlite.install, extracted.database_path, path, force=force)
        )
    await postgres.restore(
        target.database_url, extracted.database_path, force=force, grant_to=target.grant_to
    )
    return []


def staging_dir(parent: Path | None, prefix: str) -> Path:
    if parent is not None:
        ensure_private_dir(parent)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


async def restore_backup(
    archive: Path,
    secret: BackupSecret,
    target: RestoreTarget,
    *,
    force: bool = False,
    on_progress: Progress = no_progress,
) -> tuple[Manifest, list[Path]]:
    """Restore ``archive`` into ``target``; nothing changes unless the whole archive
    authenticates and matches its manifest."""
    await check_target(target, force=force)
    staging = staging_dir(target.staging_parent, ".clinicdesk-restore-")
    try:
        extracted = await extract(archive, secret, staging)
        moved = await install(extracted, target, force=force, on_progress=on_progress)
        return extracted.manifest, moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)
