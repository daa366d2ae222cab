"""``clinicdesk keys rotate``: a new field encryption key, and every encrypted value
re-encrypted under it.

Crash-safe and resumable: the old key is first added to the previous-keys file, then the
new key replaces the current one, so at every moment all stored values stay readable.
Values are re-encrypted in batches, each batch committed on its own; running
``clinicdesk keys rotate --resume`` re-encrypts whatever is still under an older key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Column, Table, Text, select, type_coerce, update

from clinicdesk.config import Settings
from clinicdesk.core.crypto import EncryptedText, FieldKeyring
from clinicdesk.core.db import Database, session_scope
from clinicdesk.core.keys import (
    FIELD_KEY_FILE,
    PREVIOUS_FIELD_KEYS_FILE,
    SECRETS_DIRNAME,
    load_or_create_keys,
    new_field_encryption_key,
)
from clinicdesk.core.tenancy import use_system_scope
from clinicdesk.models import metadata

BATCH = 500


class RotationRefused(Exception):
    pass


def encrypted_columns() -> Iterator[tuple[Table, Column[str]]]:
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def lookup_hash_columns(table: Table, column: Column[str]) -> list[Column[str]]:
    """Columns holding the keyed look-up hash of ``column`` (``info={"lookup_hash_of": ...}``)."""
    return [c for c in table.columns if c.info.get("lookup_hash_of") == column.name]


def _write_private(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def install_new_key(settings: Settings) -> FieldKeyring:
    """Generate a key and make it current, keeping the old one for decryption."""
    if settings.field_encryption_key is not None:
        raise RotationRefused(
            "The field key comes from CLINICDESK_FIELD_ENCRYPTION_KEY. Generate a new key, "
            "set it there, move the old one to CLINICDESK_FIELD_ENCRYPTION_PREVIOUS_KEYS, "
            "restart, then run `clinicdesk keys rotate --resume`."
        )
    keys = load_or_create_keys(settings)
    secrets_dir = settings.data_dir / SECRETS_DIRNAME
    previous = [keys.field_encryption_key, *keys.previous_field_encryption_keys]
    _write_private(secrets_dir / PREVIOUS_FIELD_KEYS_FILE, "\n".join(previous) + "\n")
    new_key = new_field_encryption_key()
    _write_private(secrets_dir / FIELD_KEY_FILE, new_key + "\n")
    return FieldKeyring(new_key, previous=previous)


async def count_stale(db: Database, keyring: FieldKeyring) -> int:
    stale = 0
    async with session_scope(db) as session:
        await use_system_scope(session)
        for _table, column in encrypted_columns():
            raw = type_coerce(column, Text)
            values = (await session.execute(select(raw).where(column.isnot(None)))).scalars()
            stale += sum(1 for value in values if keyring.needs_rotation(value))
    return stale


async def reencrypt(
    db: Database, keyring: FieldKeyring, *, on_progress: Callable[[int], None]
) -> int:
    """Re-encrypt every value not under the current key; returns how many were changed."""
    changed = 0
    for table, column in encrypted_columns():
        primary_key = next(iter(table.primary_key.columns))
        raw = type_coerce(column, Text)
        last = None
        while True:
            async with session_scope(db) as session:
                await use_system_scope(session)
                query = select(primary_key, raw).where(column.isnot(None)).order_by(primary_key)
                if last is not None:
                    query = query.where(primary_key > last)
                rows = (await session.execute(query.limit(BATCH))).all()
                hashes = lookup_hash_columns(table, column)
                for key, value in rows:
                    if keyring.needs_rotation(value):
                        plaintext = keyring.decrypt(value)
                        values: dict[str, object] = {
                            column.name: type_coerce(keyring.encrypt(plaintext), Text)
                        }
                        # Look-up hashes are keyed too: re-hash under the new key, or
                        # exact search would stop finding this row once the old key goes.
                        values.update({h.name: keyring.lookup_hash(plaintext) for h in hashes})
                        await session.execute(
                            update(table).where(primary_key == key).values(values)
                        )
                        changed += 1
                        on_progress(1)
            if len(rows) < BATCH:
                break
            last = rows[-1][0]
    return changed
