"""Documents in and out of an archive, always through the storage interface, so a local
directory and an S3 bucket are backed up and restored the same way."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread

from clinicdesk.core.storage import (
    DocumentStorage,
    InvalidStorageKey,
    StorageUnavailable,
    StoredObjectMissing,
)
from clinicdesk.operations.backup.archive import (
    DOCUMENTS_PREFIX,
    ArchiveWriter,
    DocumentEntry,
    DocumentProblem,
)
from clinicdesk.operations.backup.errors import BackupError

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: "database", "documents", "installing", "checking"."""

_SPOOL_MEMORY: Final = 8 << 20
_READ_BYTES: Final = 1 << 20


def _storage_failed(action: str) -> BackupError:
    return BackupError(
        f"The document storage failed while {action} (the log says why). Check the "
        "documents directory or the S3 settings and try again."
    )


@dataclass
class DocumentsCopied:
    entries: list[DocumentEntry] = field(default_factory=list)
    problems: list[DocumentProblem] = field(default_factory=list)


async def add_documents(
    writer: ArchiveWriter,
    storage: DocumentStorage,
    rows: Sequence[tuple[str, str, int]],
    *,
    staging: Path,
    mtime: float,
    on_progress: Progress,
) -> DocumentsCopied:
    """Copy the content of every document row into the archive. A missing file or one
    whose checksum differs from its row is recorded as a problem (the backup goes on:
    the rest is still worth keeping); a storage that fails stops the backup."""
    copied = DocumentsCopied()
    keys = sorted({key for key, _sha, _size in rows})
    expected = {key: sha for key, sha, _size in rows}
    for done, key in enumerate(keys, start=1):
        try:
            stream = await storage.open(key)
        except StoredObjectMissing:
            copied.problems.append(DocumentProblem(key=key, reason="missing from the storage"))
            continue
        except InvalidStorageKey:
            copied.problems.append(DocumentProblem(key=key, reason="not a valid storage key"))
            continue
        except StorageUnavailable as exc:
            raise _storage_failed("reading documents") from exc
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY, dir=str(staging)) as spool:
            digest = hashlib.sha256()
            size = 0
            try:
                async with stream:
                    async for chunk in stream:
                        digest.update(chunk)
                        spool.write(chunk)
                        size += len(chunk)
            except (StorageUnavailable, OSError) as exc:
                raise _storage_failed("reading documents") from exc
            spool.seek(0)
            await anyio.to_thread.run_sync(writer.add, DOCUMENTS_PREFIX + key, spool, size, mtime)
        sha = digest.hexdigest()
        if sha != expected[key]:
            copied.problems.append(
                DocumentProblem(key=key, reason="content differs from the recorded checksum")
            )
        copied.entries.append(DocumentEntry(key=key, size=size, sha256=sha))
        on_progress("documents", done, len(keys))
    return copied


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await anyio.to_thread.run_sync(path.open, "rb")
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, _READ_BYTES):
            yield chunk
    finally:
        await anyio.to_thread.run_sync(handle.close)


async def put_documents(
    storage: DocumentStorage,
    entries: Sequence[DocumentEntry],
    source_dir: Path,
    *,
    on_progress: Progress,
) -> None:
    """Store every document of the archive under its own key."""
    for done, entry in enumerate(entries, start=1):
        try:
            await storage.save_as(
                entry.key, _file_chunks(source_dir / entry.key), max_bytes=entry.size
            )
        except StorageUnavailable as exc:
            raise _storage_failed("writing documents") from exc
        on_progress("installing", done, len(entries))


async def check_documents(
    storage: DocumentStorage, rows: Sequence[tuple[str, str, int]]
) -> list[str]:
    """Every document row's content, read back from ``storage``, has its recorded size and
    SHA-256."""
    problems: list[str] = []
    for key, sha, size in rows:
        digest = hashlib.sha256()
        length = 0
        try:
            async with await storage.open(key) as stream:
                async for chunk in stream:
                    digest.update(chunk)
                    length += len(chunk)
        except StoredObjectMissing:
            problems.append(f"document {key}: its file is not in the backup")
            continue
        except (InvalidStorageKey, StorageUnavailable) as exc:
            problems.append(f"document {key}: cannot be read ({type(exc).__name__})")
            continue
        if digest.hexdigest() != sha or length != size:
            problems.append(f"document {key}: content does not match its recorded checksum")
    return problems


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: report nothing."""
