"""The archive: one file, a tar stream (gzip level 1) inside the encryption of ``crypto``.

Members, in this order::

    database/clinicdesk.sqlite3   SQLite: a copy made with the online backup API
    database/clinicdesk.pgdump    PostgreSQL: pg_dump --format=custom
    documents/<key>               every document's bytes, under its storage key
    manifest.json                 what the archive holds and the SHA-256 of every member

The manifest comes last because it is written once everything it describes has been
hashed. Reading never trusts a member name: only these forms are accepted, documents only
under a valid storage key, and nothing is extracted by tarfile itself.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, Final, Literal

from pydantic import BaseModel, ValidationError

from clinicdesk.core.storage.base import InvalidStorageKey, check_key
from clinicdesk.operations.backup.crypto import BackupSecret, DecryptingReader, EncryptingWriter
from clinicdesk.operations.backup.errors import ArchiveRefused, BackupError

MANIFEST_FORMAT: Final = 1
MANIFEST_NAME: Final = "manifest.json"
SQLITE_MEMBER: Final = "database/clinicdesk.sqlite3"
POSTGRES_MEMBER: Final = "database/clinicdesk.pgdump"
DOCUMENTS_PREFIX: Final = "documents/"
ARCHIVE_SUFFIX: Final = ".cdbackup"
_COPY_BYTES: Final = 1 << 20
_MANIFEST_MAX_BYTES: Final = 256 << 20

DatabaseKind = Literal["sqlite", "postgresql"]


class DocumentEntry(BaseModel):
    key: str
    size: int
    sha256: str


class DocumentProblem(BaseModel):
    key: str
    reason: str


class Manifest(BaseModel):
    format: int = MANIFEST_FORMAT
    created_at: datetime
    clinicdesk_version: str
    alembic_revisions: list[str]
    database_kind: DatabaseKind
    database_member: str
    database_size: int
    database_sha256: str
    tables: dict[str, int]
    """Rows per table, counted in the same snapshot the dump was taken from."""
    documents: list[DocumentEntry]
    document_problems: list[DocumentProblem] = []
    """Documents the database names whose file was missing or did not match at backup time."""
    field_key_ids: list[str] = []
    """Ids of the field encryption keys the data was written under (the keys are not here)."""


def database_member(kind: DatabaseKind) -> str:
    return SQLITE_MEMBER if kind == "sqlite" else POSTGRES_MEMBER


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ArchiveWriter:
    """Writes an archive to ``<path>.partial`` (0600) and renames it into place on
    ``commit()``; ``abort()`` removes it. An existing archive is never overwritten."""

    def __init__(self, path: Path, secret: BackupSecret) -> None:
        if path.exists():
            raise BackupError(f"{path} already exists; choose another --output.")
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        try:
            fd = os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise BackupError(f"Cannot write {self._partial}: {exc.strerror}.") from exc
        self._file = os.fdopen(fd, "wb")
        self._encrypted = EncryptingWriter(self._file, secret)
        # Level 1: documents (PDFs, JPEGs) are already compressed; the SQLite file and the
        # text of the manifest still shrink several times.
        self._gzip = gzip.GzipFile(fileobj=self._encrypted, mode="wb", compresslevel=1, mtime=0)
        self._tar = tarfile.open(fileobj=self._gzip, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add(self, name: str, content: IO[bytes], size: int, mtime: float) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o600
        info.mtime = int(mtime)
        self._tar.addfile(info, content)

    def add_bytes(self, name: str, data: bytes, mtime: float) -> None:
        self.add(name, io.BytesIO(data), len(data), mtime)

    def commit(self) -> int:
        self._tar.close()
        self._gzip.close()
        self._encrypted.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        size = self._file.tell()
        self._file.close()
        os.replace(self._partial, self.path)
        _fsync_dir(self.path.parent)
        return size

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        self._partial.unlink(missing_ok=True)


@dataclass
class ExtractedArchive:
    """An archive read into a private staging directory; every member authenticated and
    its SHA-256 checked against the manifest."""

    manifest: Manifest
    database_path: Path
    documents_dir: Path

    def document_path(self, key: str) -> Path:
        return self.documents_dir / key


def _copy_hashing(source: IO[bytes], target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_COPY_BYTES):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def extract_archive(path: Path, secret: BackupSecret, staging: Path) -> ExtractedArchive:
    """Decrypt and unpack ``path`` into ``staging`` (an empty private directory) and check
    every member against the manifest. Raises ``ArchiveRefused`` on any doubt."""
    try:
        source: BinaryIO = path.open("rb")
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from exc
    with source:
        reader = DecryptingReader(source, secret)
        try:
            found, manifest_bytes = _unpack(reader, staging)
        except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise ArchiveRefused(
                f"The archive decrypted but its content is malformed ({exc}); it was not "
                "made by `clinicdesk backup`."
            ) from exc
        reader.finish()
    if manifest_bytes is None:
        raise ArchiveRefused("The archive has no manifest.json; it is incomplete.")
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        raise ArchiveRefused(f"The archive's manifest is not readable: {exc}") from exc
    if manifest.format != MANIFEST_FORMAT:
        raise ArchiveRefused(
            f"The archive's manifest has format {manifest.format}; this ClinicDesk reads "
            f"{MANIFEST_FORMAT}. Use the ClinicDesk version that made it."
        )
    _check_members(manifest, found)
    return ExtractedArchive(
        manifest=manifest,
        database_path=staging / manifest.database_member,
        documents_dir=staging / DOCUMENTS_PREFIX.rstrip("/"),
    )


def _unpack(
    reader: DecryptingReader, staging: Path
) -> tuple[dict[str, tuple[int, str]], bytes | None]:
    """Members by document key, and the dump under "database" and under its member name,
    with their size and SHA-256."""
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    (staging / "database").mkdir(mode=0o700)
    (staging / DOCUMENTS_PREFIX.rstrip("/")).mkdir(mode=0o700)
    found: dict[str, tuple[int, str]] = {}
    found_database: str | None = None
    manifest: bytes | None = None
    gz = gzip.GzipFile(fileobj=reader, mode="rb")
    with tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                raise ArchiveRefused(f"The archive holds an unexpected entry {member.name!r}.")
            content = tar.extractfile(member)
            assert content is not None  # noqa: S101 - a regular file always has content
            name = member.name
            if name == MANIFEST_NAME and manifest is None:
                if member.size > _MANIFEST_MAX_BYTES:
                    raise ArchiveRefused("The archive's manifest is implausibly large.")
                manifest = content.read()
            elif name in (SQLITE_MEMBER, POSTGRES_MEMBER) and "database" not in found:
                found["database"] = _copy_hashing(content, staging / name)
                found_database = name
            elif name.startswith(DOCUMENTS_PREFIX):
                key = name.removeprefix(DOCUMENTS_PREFIX)
                try:
                    check_key(key)
                except InvalidStorageKey:
                    raise ArchiveRefused(
                        f"The archive holds an unexpected entry {name!r}."
                    ) from None
                if key in found:
                    raise ArchiveRefused(f"The archive holds {name!r} twice.")
                found[key] = _copy_hashing(content, staging / DOCUMENTS_PREFIX / key)
            else:
                raise ArchiveRefused(f"The archive holds an unexpected entry {name!r}.")
    # Whatever follows the tar's end marker (gzip trailer, padding) is read too: the
    # decryption only vouches for the archive once it has seen its very last byte.
    while gz.read(_COPY_BYTES):
        pass
    if found_database is not None:
        found[found_database] = found["database"]
    return found, manifest


def _check_members(manifest: Manifest, found: dict[str, tuple[int, str]]) -> None:
    database = found.pop("database", None)
    if database is None:
        raise ArchiveRefused("The archive holds no database.")
    if manifest.database_member != database_member(manifest.database_kind) or (
        found.pop(manifest.database_member, None) != database
    ):
        raise ArchiveRefused("The archive's database is not the one its manifest names.")
    if database != (manifest.database_size, manifest.database_sha256):
        raise ArchiveRefused("The archive's database does not match its manifest's checksum.")
    expected = {entry.key: (entry.size, entry.sha256) for entry in manifest.documents}
    documents = found
    if set(documents) != set(expected):
        raise ArchiveRefused(
            f"The archive holds {len(documents)} documents; its manifest lists {len(expected)}."
        )
    for key, facts in documents.items():
        if facts != expected[key]:
            raise ArchiveRefused(f"Document {key} does not match its manifest's checksum.")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
