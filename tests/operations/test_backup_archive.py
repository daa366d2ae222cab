"""The archive's encryption on its own: any change to any byte is refused, a wrong key or
passphrase is named as such, and the backup secret is never the field encryption key."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from clinicdesk.operations.backup import ArchiveRefused, BackupError, BackupSecret, resolve_secret
from clinicdesk.operations.backup.crypto import (
    CHUNK_LOG2,
    HEADER_BYTES,
    TAG_BYTES,
    DecryptingReader,
    EncryptingWriter,
    key_id,
)
from clinicdesk.operations.backup.sqlite import DOCUMENTS_COLUMNS, DOCUMENTS_TABLE
from clinicdesk.patients.models import Document
from tests.conftest import TEST_FIELD_KEY, make_settings

CHUNK = 1 << CHUNK_LOG2
RECORD = CHUNK + TAG_BYTES
KEY = BackupSecret("key", bytes(range(32)), "test key")


def encrypt(data: bytes, secret: BackupSecret = KEY) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, secret)
    for start in range(0, len(data), 100_000):  # writes that straddle chunk boundaries
        writer.write(data[start : start + 100_000])
    writer.finish()
    return out.getvalue()


def decrypt(blob: bytes, secret: BackupSecret = KEY) -> bytes:
    reader = DecryptingReader(io.BytesIO(blob), secret)
    data = reader.read()
    reader.finish()
    return data


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 12345])
def test_round_trip_at_every_chunk_boundary(size: int) -> None:
    data = os.urandom(size)
    blob = encrypt(data)
    assert decrypt(blob) == data
    assert len(blob) == HEADER_BYTES + size + TAG_BYTES * (size // CHUNK + 1)


def _flip(blob: bytes, position: int) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 0x01
    return bytes(changed)


def _tamperings(blob: bytes) -> dict[str, bytes]:
    chunks = [
        blob[HEADER_BYTES + i : HEADER_BYTES + i + RECORD] for i in range(0, 3 * RECORD, RECORD)
    ]
    header = blob[:HEADER_BYTES]
    found = {
        f"byte {p} flipped": _flip(blob, p)
        for p in (0, 8, 9, 10, 20, 30, HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + RECORD - 1)
    }
    found |= {
        "last byte flipped": _flip(blob, len(blob) - 1),
        "cut at a chunk boundary": blob[: HEADER_BYTES + 2 * RECORD],
        "cut inside a chunk": blob[: HEADER_BYTES + RECORD + 100],
        "cut to the header": header,
        "a byte appended": blob + b"\x00",
        "chunks swapped": header + chunks[1] + chunks[0] + chunks[2],
        "a chunk dropped": header + chunks[0] + chunks[2],
        "a chunk repeated": header + chunks[0] + chunks[0] + chunks[1] + chunks[2],
        "header of another archive": encrypt(b"")[:HEADER_BYTES] + blob[HEADER_BYTES:],
    }
    return found


def test_any_change_to_the_archive_is_refused() -> None:
    blob = encrypt(os.urandom(2 * CHUNK + 500))
    for what, tampered in _tamperings(blob).items():
        with pytest.raises(ArchiveRefused) as refused:
            decrypt(tampered)
        assert refused.value.message, what


def test_plaintext_is_handed_on_only_after_its_chunk_authenticated() -> None:
    blob = _flip(encrypt(os.urandom(2 * CHUNK)), HEADER_BYTES + RECORD + 5)
    reader = DecryptingReader(io.BytesIO(blob), KEY)
    assert len(reader.read(CHUNK)) == CHUNK  # the first chunk is intact
    with pytest.raises(ArchiveRefused, match="damaged or was altered"):
        reader.read(1)


def test_a_wrong_key_is_named_not_called_damage() -> None:
    other = BackupSecret("key", os.urandom(32), "/elsewhere/backup_key")
    with pytest.raises(ArchiveRefused) as refused:
        decrypt(encrypt(b"data"), other)
    assert key_id(KEY.value) in refused.value.message
    assert key_id(other.value) in refused.value.message
    with pytest.raises(ArchiveRefused, match="not a ClinicDesk backup archive"):
        decrypt(b"PK\x03\x04" + os.urandom(100))


def test_passphrase_archives() -> None:
    passphrase = BackupSecret("passphrase", b"correct horse battery staple", "pass.txt")
    blob = encrypt(b"clinic", passphrase)
    assert decrypt(blob, passphrase) == b"clinic"
    with pytest.raises(ArchiveRefused, match=r"passphrase from wrong\.txt does not open"):
        decrypt(blob, BackupSecret("passphrase", b"correct horse battery stapler", "wrong.txt"))
    with pytest.raises(ArchiveRefused, match="encrypted with a passphrase"):
        decrypt(blob, KEY)
    with pytest.raises(ArchiveRefused, match="encrypted with backup key"):
        decrypt(encrypt(b"clinic"), passphrase)


def test_the_backup_key_is_generated_private_and_never_the_field_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(BackupError, match="No backup key"):
        resolve_secret(settings)
    resolved = resolve_secret(settings, create=True)
    assert resolved.generated_at == settings.data_dir / "secrets" / "backup_key"
    assert stat.S_IMODE(resolved.generated_at.stat().st_mode) == 0o600
    again = resolve_secret(settings)
    assert again.secret == resolved.secret and again.generated_at is None

    with pytest.raises(BackupError, match="is the field encryption key"):
        resolve_secret(make_settings(tmp_path, backup_key=TEST_FIELD_KEY))
    field_key_file = tmp_path / "field.key"
    field_key_file.write_text(TEST_FIELD_KEY + "\n")
    with pytest.raises(BackupError, match="is the field encryption key"):
        resolve_secret(settings, key_file=field_key_file)
    with pytest.raises(BackupError, match="is the field encryption key"):
        resolve_secret(settings, passphrase_file=field_key_file)
    short = tmp_path / "short.txt"
    short.write_text("password\n")
    with pytest.raises(BackupError, match="shorter than 12"):
        resolve_secret(settings, passphrase_file=short)


def test_the_documents_a_backup_copies_are_the_patients_document_table() -> None:
    assert Document.__tablename__ == DOCUMENTS_TABLE
    assert all(column in Document.__table__.columns for column in DOCUMENTS_COLUMNS)
