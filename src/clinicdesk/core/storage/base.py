"""What every document storage shares: the stored object, the errors, the key rules and
streaming with a size limit (see the package's rules)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Final, Protocol, Self

import anyio
import anyio.to_thread
import structlog

from clinicdesk.config import MIB
from clinicdesk.core.errors import ClinicError, NotFound

log = structlog.get_logger(__name__)

CHUNK_SIZE: Final = 64 * 1024
"""Size of the pieces :meth:`DocumentStorage.open` streams."""

SPOOL_MEMORY_BYTES: Final = 1 * MIB
"""S3 uploads are buffered in memory up to this size, then in an anonymous temporary file."""

_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    """The storage's name for the content; store it, never show it as a file name."""
    size: int
    sha256: str
    """Lower-case hex digest of the content, for integrity checks and duplicate detection."""


def _human_size(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.3g} MiB"
    if size >= 1024:
        return f"{size / 1024:.3g} KiB"
    return f"{size} bytes"


class DocumentTooLarge(ClinicError):
    status_code = 413
    title = "The document is too large"
    code = "document-too-large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The document is larger than the limit of {_human_size(max_bytes)}. Send a "
            "smaller file, for example a scan at a lower resolution or split into parts.",
            max_bytes=max_bytes,
        )


class StoredObjectMissing(NotFound):
    """A valid key without content: deleted, or lost outside ClinicDesk (a restore of the
    database without the documents). A 404, since there is nothing to send."""

    title = "Document file not found"
    code = "document-missing"

    def __init__(self) -> None:
        super().__init__(
            "The file of this document is missing from the document storage. Ask the "
            "administrator to restore it from a backup, or upload it again."
        )


class StorageUnavailable(ClinicError):
    status_code = 503
    title = "Document storage unavailable"
    code = "storage-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The document storage cannot be used right now. Try again in a moment; if it "
            "keeps happening, tell the administrator (the server log has the cause)."
        )


class InvalidStorageKey(ValueError):
    """A key not of the form this module generates: a bug or a tampered record, never a
    user mistake, so it is not a ``ClinicError`` and surfaces as a 500."""


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"not a document storage key: {key!r}")
    return key


def new_key() -> str:
    return secrets.token_hex(16)


class ContentStream:
    """The content of one stored object, read in :data:`CHUNK_SIZE` pieces off the loop.

    It is returned already open, so a missing object is reported before a response has
    started. The handle is released at the end of the content, on a read error, or by
    :meth:`aclose`: call it (or use ``async with``) when not reading to the end.
    """

    def __init__(self, read: Callable[[int], bytes], close: Callable[[], None]) -> None:
        self._read = read
        self._close = close
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await anyio.to_thread.run_sync(self._read, CHUNK_SIZE)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await anyio.to_thread.run_sync(self._close)

    async def read_all(self) -> bytes:
        """The whole content; for small objects and tests (documents can be large)."""
        return b"".join([chunk async for chunk in self])

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class DocumentStorage(Protocol):
    async def save(self, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int) -> StoredObject:
        """Store the content under a new key; ``DocumentTooLarge`` past ``max_bytes``."""
        ...

    async def save_as(
        self, key: str, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int
    ) -> StoredObject:
        """Store the content under ``key`` itself, replacing what is there (a failed one
        may leave nothing under it): for restoring a backup, whose database rows name the
        keys. Uploads use ``save``, which makes up a new key."""
        ...

    async def open(self, key: str) -> ContentStream:
        """The content of ``key``; ``StoredObjectMissing`` when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing what is already gone is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...


async def _pieces(chunks: AsyncIterable[bytes] | bytes) -> AsyncIterator[bytes]:
    if isinstance(chunks, bytes):
        if chunks:
            yield chunks
        return
    async for chunk in chunks:
        if chunk:
            yield chunk


def check_limit(chunks: AsyncIterable[bytes] | bytes, max_bytes: int) -> None:
    if max_bytes < 0:
        raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
    # Content already in memory is refused before a file or upload is even started.
    if isinstance(chunks, bytes) and len(chunks) > max_bytes:
        raise DocumentTooLarge(max_bytes)


def _write_and_hash(file: IO[bytes], digest: hashlib._Hash, chunk: bytes) -> None:
    # hashlib releases the GIL on large buffers, so hashing here keeps the loop free too.
    digest.update(chunk)
    file.write(chunk)


async def write_counted(
    chunks: AsyncIterable[bytes] | bytes,
    file: IO[bytes],
    *,
    max_bytes: int,
    guard: Callable[[], AbstractContextManager[None]],
) -> tuple[int, hashlib._Hash]:
    """Write ``chunks`` to ``file``, counting and hashing; stop as soon as the limit is
    passed, before the chunk that passes it is written.

    Only the writes run under ``guard`` (the backend's storage-error translation): an
    error of the source, such as a client that disconnects, is not a storage failure and
    propagates unchanged.
    """
    digest = hashlib.sha256()
    size = 0
    async for chunk in _pieces(chunks):
        size += len(chunk)
        if size > max_bytes:
            raise DocumentTooLarge(max_bytes)
        with guard():
            await anyio.to_thread.run_sync(_write_and_hash, file, digest, chunk)
    return size, digest
