"""The archive's encryption: AES-256-GCM over fixed-size chunks, under a backup key or a
passphrase that is never the field encryption key.

File layout::

    header (54 bytes)  magic "CDBACKUP", format version, how the key is derived, chunk
                       size, scrypt parameters, 16-byte random salt, key id, key check
    chunk 0 .. n       ciphertext + 16-byte GCM tag, CHUNK_SIZE bytes of plaintext each;
                       the last one is shorter (possibly empty) and marked final

Rules, and why:

* Every archive gets its own content key, ``HKDF(master, salt)``; the master is the
  32-byte backup key, or scrypt of the passphrase. A fresh key per archive makes a
  counter nonce safe, with no random-nonce collision bound to worry about.
* The nonce of chunk *i* is ``i`` (11 bytes) followed by a final flag, and the whole header
  is the associated data of every chunk (the STREAM construction). Changing any byte of
  the header or of a chunk, swapping or dropping chunks, cutting the file short or adding
  bytes after the final chunk all fail authentication; nothing unauthenticated is ever
  handed on.
* The header carries a key check (an HKDF output, which reveals nothing about the key), so
  a wrong key or passphrase is told apart from a damaged archive. In key mode it also
  carries the key's id (4 bytes of a hash), so the message can name the key that is needed.
* Fernet would need the whole file in memory; this streams in 1 MiB pieces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from clinicdesk.operations.backup.errors import ArchiveRefused, BackupError

MAGIC: Final = b"CDBACKUP"
FORMAT_VERSION: Final = 1
KEY_BYTES: Final = 32
SALT_BYTES: Final = 16
TAG_BYTES: Final = 16
CHUNK_LOG2: Final = 20  # 1 MiB of plaintext per chunk
# scrypt at N=2^17, r=8, p=1 (128 MiB, about a second): the interactive-login parameters
# recommended for passwords, for a file that is opened a few times a year.
SCRYPT_LOG2_N: Final = 17
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1

_HEADER: Final = struct.Struct(">8sBBBBBB16s8s16s")
HEADER_BYTES: Final = _HEADER.size
_KDF_KEY: Final = 1
_KDF_PASSPHRASE: Final = 2
_CONTENT_INFO: Final = b"clinicdesk backup v1 content"
_CHECK_INFO: Final = b"clinicdesk backup v1 key check"
_KEY_ID_LABEL: Final = b"clinicdesk backup key id v1\x00"
_NO_KEY_ID: Final = b"\x00" * 8


@dataclass(frozen=True, slots=True)
class BackupSecret:
    """What encrypts an archive: a 32-byte backup key, or a passphrase."""

    kind: Literal["key", "passphrase"]
    value: bytes
    source: str
    """Where it came from, for messages (an environment variable or a file path)."""

    @property
    def key_id(self) -> str | None:
        return key_id(self.value) if self.kind == "key" else None


def key_id(raw_key: bytes) -> str:
    """8 hex digits naming a backup key without revealing it."""
    return hashlib.sha256(_KEY_ID_LABEL + raw_key).hexdigest()[:8]


def new_backup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def decode_backup_key(text: str, *, source: str) -> BackupSecret:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise BackupError(
            f"The backup key from {source} is not 32 bytes in url-safe base64 (44 characters "
            "ending in '='). Use the key file `clinicdesk backup` generated, or a passphrase "
            "file (--passphrase-file)."
        )
    return BackupSecret(kind="key", value=raw, source=source)


def _derive(master: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(master)


def _master(secret: BackupSecret, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if secret.kind == "key":
        return secret.value
    return Scrypt(salt=salt, length=KEY_BYTES, n=2**log2_n, r=r, p=p).derive(secret.value)


def _nonce(counter: int, *, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only file object: plaintext in, the encrypted archive out to ``sink``.
    ``finish()`` writes the final chunk; an archive without it is refused when read."""

    def __init__(self, sink: BinaryIO, secret: BackupSecret) -> None:
        salt = os.urandom(SALT_BYTES)
        if secret.kind == "key":
            kdf, params, kid = _KDF_KEY, (0, 0, 0), key_id(secret.value).encode("ascii")
        else:
            kdf, params, kid = _KDF_PASSPHRASE, (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P), _NO_KEY_ID
        master = _master(secret, salt, *params)
        check = _derive(master, salt, _CHECK_INFO, 16)
        self._header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, kdf, CHUNK_LOG2, *params, salt, kid, check
        )
        self._aead = AESGCM(_derive(master, salt, _CONTENT_INFO, KEY_BYTES))
        self._chunk = 1 << CHUNK_LOG2
        self._sink = sink
        self._buffer = bytearray()
        self._counter = 0
        self._finished = False
        sink.write(self._header)

    def write(self, data: bytes) -> int:
        if self._finished:
            raise ValueError("the archive is already finished")
        self._buffer += data
        while len(self._buffer) >= self._chunk:
            self._emit(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def finish(self) -> None:
        if not self._finished:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._finished = True
            self._sink.flush()

    def _emit(self, plaintext: bytes, *, final: bool) -> None:
        nonce = _nonce(self._counter, final=final)
        self._sink.write(self._aead.encrypt(nonce, plaintext, self._header))
        self._counter += 1


@dataclass(frozen=True, slots=True)
class ArchiveHeader:
    kind: Literal["key", "passphrase"]
    key_id: str | None
    raw: bytes


def read_header(source: BinaryIO) -> ArchiveHeader:
    raw = source.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES or not raw.startswith(MAGIC):
        raise ArchiveRefused("This file is not a ClinicDesk backup archive.")
    _magic, version, kdf, _chunk, _n, _r, _p, _salt, kid, _check = _HEADER.unpack(raw)
    if version != FORMAT_VERSION:
        raise ArchiveRefused(
            f"This archive has format version {version}; this ClinicDesk reads version "
            f"{FORMAT_VERSION}. Restore it with the ClinicDesk version that made it."
        )
    if kdf not in (_KDF_KEY, _KDF_PASSPHRASE):
        raise ArchiveRefused("The archive's header is damaged (unknown key derivation).")
    if kdf == _KDF_KEY:
        return ArchiveHeader("key", kid.decode("ascii", errors="replace"), raw)
    return ArchiveHeader("passphrase", None, raw)


class DecryptingReader:
    """A read-only file object over an archive: hands out plaintext only after its chunk
    authenticated. ``finish()`` reads to the end and raises unless the final chunk was
    there and nothing follows it, so call it before trusting what was read."""

    def __init__(self, source: BinaryIO, secret: BackupSecret) -> None:
        header = read_header(source)
        _magic, _v, _kdf, chunk_log2, log2_n, r, p, salt, _kid, check = _HEADER.unpack(header.raw)
        if header.kind != secret.kind:
            raise ArchiveRefused(_kind_mismatch(header))
        if chunk_log2 > 26 or log2_n > 22 or r > 32 or p > 16:
            raise ArchiveRefused("The archive's header is damaged (parameters out of range).")
        master = _master(secret, salt, log2_n, r, p)
        if not hmac.compare_digest(_derive(master, salt, _CHECK_INFO, 16), check):
            raise ArchiveRefused(_wrong_secret(header, secret))
        self._header = header.raw
        self._aead = AESGCM(_derive(master, salt, _CONTENT_INFO, KEY_BYTES))
        self._record = (1 << chunk_log2) + TAG_BYTES
        self._source = source
        self._buffer = bytearray()
        self._counter = 0
        self._final_seen = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._final_seen and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("an archive is read once, from front to back")

    def finish(self) -> None:
        while not self._final_seen:
            self._next_chunk()
        self._buffer.clear()
        if self._source.read(1):
            raise ArchiveRefused(_tampered("there are bytes after its end"))

    def _next_chunk(self) -> None:
        record = self._source.read(self._record)
        if not record:
            raise ArchiveRefused(_tampered("it ends too early"))
        # A full-length record is never the last: the writer always ends with a shorter one.
        final = len(record) < self._record
        try:
            self._buffer += self._aead.decrypt(
                _nonce(self._counter, final=final), record, self._header
            )
        except InvalidTag:
            raise ArchiveRefused(_tampered()) from None
        self._counter += 1
        self._final_seen = final


def _tampered(detail: str = "") -> str:
    return (
        "The archive is damaged or was altered"
        + (f" ({detail})" if detail else "")
        + ": its authentication failed, so nothing from it is used. Take another copy of "
        "the backup."
    )


def _kind_mismatch(header: ArchiveHeader) -> str:
    if header.kind == "passphrase":
        return "This archive was encrypted with a passphrase: give it with --passphrase-file."
    return (
        f"This archive was encrypted with backup key {header.key_id}, not a passphrase: "
        "give that key with --key-file or CLINICDESK_BACKUP_KEY."
    )


def _wrong_secret(header: ArchiveHeader, secret: BackupSecret) -> str:
    if header.kind == "passphrase":
        return f"The passphrase from {secret.source} does not open this archive."
    return (
        f"This archive was encrypted with backup key {header.key_id}; the key from "
        f"{secret.source} is {secret.key_id}. Give the right key with --key-file or "
        "CLINICDESK_BACKUP_KEY."
    )
