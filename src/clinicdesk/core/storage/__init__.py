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

from clinicdesk.config import Settings
from clinicdesk.core.storage.base import (
    CHUNK_SIZE,
    ContentStream,
    DocumentStorage,
    DocumentTooLarge,
    InvalidStorageKey,
    StorageUnavailable,
    StoredObject,
    StoredObjectMissing,
)
from clinicdesk.core.storage.local import LocalDirectoryStorage
from clinicdesk.core.storage.s3 import S3Storage

__all__ = [
    "CHUNK_SIZE",
    "ContentStream",
    "DocumentStorage",
    "DocumentTooLarge",
    "InvalidStorageKey",
    "LocalDirectoryStorage",
    "S3Storage",
    "StorageUnavailable",
    "StoredObject",
    "StoredObjectMissing",
    "storage_from_settings",
]


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
