"""Documents in a private directory of the server (the default)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Final

import anyio
import anyio.to_thread
import structlog

from clinicdesk.core.keys import ensure_private_dir
from clinicdesk.core.storage.base import (
    ContentStream,
    StorageUnavailable,
    StoredObject,
    StoredObjectMissing,
    check_key,
    check_limit,
    new_key,
    write_counted,
)

log = structlog.get_logger(__name__)


class LocalDirectoryStorage:
    """Documents as files under ``root``, sharded by the first two key digits.

    ``root/ab/cdef...``: 256 shards keep each directory near 4,000 entries per million
    documents. Directories are owner-only (0700) and files owner-only (0600): the content
    is patient data. A save interrupted by a crash can leave a ``.upload-*.part`` file
    in a shard; it is never served under any key and may be removed once a day old.
    """

    backend: Final = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalDirectoryStorage(root={str(self.root)!r})"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:]

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            log.error(
                "documents.storage_failed", backend=self.backend, operation=operation, exc_info=exc
            )
            raise StorageUnavailable() from exc

    def _create_temp(self, shard: Path) -> tuple[IO[bytes], Path]:
        ensure_private_dir(self.root)
        ensure_private_dir(shard)
        # mkstemp creates the file 0600; the dot and suffix keep it from ever looking
        # like a key.
        fd, name = tempfile.mkstemp(dir=shard, prefix=".upload-", suffix=".part")
        return os.fdopen(fd, "wb"), Path(name)

    @staticmethod
    def _commit(file: IO[bytes], temp: Path, target: Path) -> None:
        file.flush()
        os.fsync(file.fileno())
        file.close()
        os.replace(temp, target)
        # The rename is durable only once the directory entry is on disk too.
        if os.name == "posix":
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @staticmethod
    def _discard(file: IO[bytes], temp: Path) -> None:
        try:
            file.close()
            temp.unlink(missing_ok=True)
        except OSError:
            # The original error matters more; a stray .part file is never served.
            log.warning("documents.cleanup_failed", backend="local", exc_info=True)

    async def save(self, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int) -> StoredObject:
        return await self.save_as(new_key(), chunks, max_bytes=max_bytes)

    async def save_as(
        self, key: str, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int
    ) -> StoredObject:
        check_limit(chunks, max_bytes)
        target = self._path(key)
        with self._errors("save"):
            file, temp = await anyio.to_thread.run_sync(self._create_temp, target.parent)
        try:
            size, digest = await write_counted(
                chunks, file, max_bytes=max_bytes, guard=partial(self._errors, "save")
            )
            with self._errors("save"):
                await anyio.to_thread.run_sync(self._commit, file, temp, target)
        except BaseException:
            # Shielded: a cancelled upload must still remove its partial file.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._discard, file, temp)
            raise
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    async def open(self, key: str) -> ContentStream:
        path = self._path(key)
        with self._errors("open"):
            try:
                file = await anyio.to_thread.run_sync(path.open, "rb")
            except FileNotFoundError:
                raise StoredObjectMissing() from None
        return ContentStream(file.read, file.close)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with self._errors("delete"):
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        with self._errors("exists"):
            return await anyio.to_thread.run_sync(path.is_file)
