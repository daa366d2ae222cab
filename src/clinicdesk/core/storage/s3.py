"""Documents in an S3-compatible bucket (``uv sync --extra s3`` for boto3)."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import IO, TYPE_CHECKING, Final

import anyio
import anyio.to_thread
import structlog
from pydantic import SecretStr

from clinicdesk.core.storage.base import (
    SPOOL_MEMORY_BYTES,
    ContentStream,
    StorageUnavailable,
    StoredObject,
    StoredObjectMissing,
    check_key,
    check_limit,
    new_key,
    write_counted,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

log = structlog.get_logger(__name__)


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
        return self.prefix + check_key(key)

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
        return await self.save_as(new_key(), chunks, max_bytes=max_bytes)

    async def save_as(
        self, key: str, chunks: AsyncIterable[bytes] | bytes, *, max_bytes: int
    ) -> StoredObject:
        check_limit(chunks, max_bytes)
        object_key = self._object_key(key)
        with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
            size, digest = await write_counted(
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
