"""Where uploaded patient documents are kept: a private directory, or an S3 bucket.

Callers hand the content to a :class:`DocumentStorage` and keep the returned
:class:`StoredObject` (key, size, SHA-256) in their own table; they never build a path or
an object name. Rules:

* The server makes up every key (128 random bits as 32 lower-case hex digits). A file
  name sent by a client never reaches the storage, so it cannot pick a location, overwrite
  another document or climb out of the directory. A key read back is checked against that
  exact form (``InvalidStorageKey`` otherwise), so a tampered row cannot reach ``../``.
* ``save`` counts while it streams and stops with :class:`DocumentTooLarge` (413) as soon
  as the limit is passed; a refused, failed or cancelled save leaves nothing behind.
* A document is stored whole or not at all: local files are written to a temporary name,
  fsynced and renamed; S3 objects are uploaded in one request that carries their SHA-256.
* File and network I/O run in worker threads; the event loop never waits on a disk.
* :class:`StoredObjectMissing` (404) means the key is valid but has no content;
  :class:`StorageUnavailable` (503) means the storage failed (disk, network, credentials),
  with the cause in the log and never in the answer.

Checking what the content *is* belongs to :mod:`clinicdesk.core.filetypes`; the storage
keeps bytes and knows no types, names or patients.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final, Protocol, Self

import anyio
import anyio.to_thread
import structlog
from pydantic import SecretStr

from clinicdesk.config import MIB, Settings
from clinicdesk.core.errors import ClinicError, NotFound
from clinicdesk.core.keys import ensure_private_dir

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

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


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"not a document storage key: {key!r}")
    return key


def _new_key() -> str:
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


def _check_limit(chunks: AsyncIterable[bytes] | bytes, max_bytes: int) -> None:
    if max_bytes < 0:
        raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
    # Content already in memory is refused before a file or upload is even started.
    if isinstance(chunks, bytes) and len(chunks) > max_bytes:
        raise DocumentTooLarge(max_bytes)


def _write_and_hash(file: IO[bytes], digest: hashlib._Hash, chunk: bytes) -> None:
    # hashlib releases the GIL on large buffers, so hashing here keeps the loop free too.
    digest.update(chunk)
    file.write(chunk)


async def _spool(
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
        _check_key(key)
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
        _check_limit(chunks, max_bytes)
        key = _new_key()
        target = self._path(key)
        with self._errors("save"):
            file, temp = await anyio.to_thread.run_sync(self._create_temp, target.parent)
        try:
            size, digest = await _spool(
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


def _is_missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code")
    return code in {"NoSuchKey", "NotFound", "404"}


class S3Storage:
    """Documents as objects in an S3-compatible bucket, named ``<prefix><key>``.

    boto3 is an optional dependency (``clinicdesk[s3]``) imported only here, so a server
    on local storage runs without it. A save is spooled (memory up to
    :data:`SPOOL_MEMORY_BYTES`, then an unnamed temporary file that disappears on close)
    while it is counted and hashed, and uploaded only when complete and within the limit:
    an oversized or interrupted upload never creates an object. The upload sends its
    SHA-256, which AWS S3 (and services that implement checksums) verify before storing.
    Encryption at rest is the bucket's (default on AWS; configure it on other services).
    Without credentials, boto3 finds them as usual (``AWS_*`` variables, ``~/.aws``, the
    instance role).
    """

    backend: Final = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: SecretStr | str | None = None,
        prefix: str = "",
    ) -> None:
        try:
            import boto3.session
            from botocore.config import Config
        except ImportError as exc:
            raise RuntimeError(
                "S3 document storage needs boto3, which is not installed. Install it with "
                "`pip install 'clinicdesk[s3]'` (or `uv sync --extra s3` in a checkout), or "
                "set CLINICDESK_DOCUMENTS_STORAGE=local."
            ) from exc

        if isinstance(secret_access_key, SecretStr):
            secret_access_key = secret_access_key.get_secret_value()
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
            # S3-compatible services (MinIO, Ceph...) are usually reached by path, not by
            # a bucket subdomain that would need its own DNS name and certificate.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        # A session of its own: boto3's default session is not thread-safe, its clients are.
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    def __repr__(self) -> str:
        return (
            f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, "
            f"prefix={self.prefix!r})"
        )

    def _object_key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, OSError) as exc:
            log.error(
                "documents.storage_failed", backend=self.backend, operation=operation, exc_info=exc
            )
            raise StorageUnavailable() from exc

    def _put(self, object_key: str, body: IO[bytes], size: int, sha256: bytes) -> None:
        body.seek(0)
        self._client.put_object(
            Bucket=self.bucket,
            Key=object_key,
            Body=body,
            ContentLength=size,
            ContentType="application/octet-stream",
            ChecksumSHA256=base64.b64encode(sha256).decode("ascii"),
        )

    def _delete_quietly(self, object_key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=object_key)
        except Exception:
            log.warning("documents.cleanup_failed", backend=self.backend, exc_info=True)

    async def save(self, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int) -> StoredObject:
        _check_limit(chunks, max_bytes)
        key = _new_key()
        object_key = self._object_key(key)
        with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
            size, digest = await _spool(
                chunks, spool, max_bytes=max_bytes, guard=partial(self._errors, "save")
            )
            with self._errors("save"):
                try:
                    await anyio.to_thread.run_sync(
                        self._put, object_key, spool, size, digest.digest()
                    )
                except BaseException:
                    # The request may have reached S3 before failing or being cancelled.
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(self._delete_quietly, object_key)
                    raise
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    async def open(self, key: str) -> ContentStream:
        object_key = self._object_key(key)
        with self._errors("open"):
            try:
                response = await anyio.to_thread.run_sync(
                    lambda: self._client.get_object(Bucket=self.bucket, Key=object_key)
                )
            except Exception as exc:
                if _is_missing(exc):
                    raise StoredObjectMissing() from None
                raise
        body = response["Body"]
        return ContentStream(body.read, body.close)

    async def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        with self._errors("delete"):
            await anyio.to_thread.run_sync(
                lambda: self._client.delete_object(Bucket=self.bucket, Key=object_key)
            )

    async def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        with self._errors("exists"):
            try:
                await anyio.to_thread.run_sync(
                    lambda: self._client.head_object(Bucket=self.bucket, Key=object_key)
                )
            except Exception as exc:
                if _is_missing(exc):
                    return False
                raise
        return True


def storage_from_settings(settings: Settings) -> DocumentStorage:
    """The storage the settings choose; S3 needs boto3 installed (``RuntimeError`` if not)."""
    if settings.documents_storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("CLINICDESK_S3_BUCKET is required for S3 document storage")
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
        )
    return LocalDirectoryStorage(settings.resolved_documents_dir)
