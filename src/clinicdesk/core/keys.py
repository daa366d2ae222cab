"""Application secrets: taken from the environment, or generated once into the data directory.

Generated keys live in ``<data_dir>/secrets/`` (directory 0700, files 0600). Creation is
atomic, so several worker processes starting at once agree on one key.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from clinicdesk.config import Settings

log = structlog.get_logger(__name__)

SECRETS_DIRNAME = "secrets"
FIELD_KEY_FILE = "field_encryption_key"
PREVIOUS_FIELD_KEYS_FILE = "field_encryption_key.previous"


@dataclass(frozen=True, slots=True)
class AppKeys:
    secret_key: str
    """Signs session ids, CSRF tokens and flash cookies."""
    field_encryption_key: str
    """32 random bytes, url-safe base64: encrypts identifiers (national ID, insurance)."""
    previous_field_encryption_keys: tuple[str, ...] = ()
    """Keys rotated out but still able to decrypt values not yet re-encrypted."""


def _new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def new_field_encryption_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make sure only the owner can enter it."""
    path.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o700)


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Return the key stored at ``path``, creating it atomically when missing.

    The key is written to a private temporary file and hard-linked into place: the link
    either appears complete or fails because another process won, so no reader ever sees
    a half-written key.
    """
    if not path.exists():
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(make() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
            log.info("keys.generated", file=path.name)
        except FileExistsError:
            pass  # another worker created it first; use theirs
        finally:
            tmp.unlink(missing_ok=True)

    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # A restored backup or a careless copy: never leave a key readable by others.
        log.warning("keys.permissions_tightened", file=path.name, mode=oct(mode))
        path.chmod(0o600)
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise RuntimeError(f"key file {path} is empty; remove it to generate a new key")
    return value


def load_or_create_keys(settings: Settings) -> AppKeys:
    """Keys from the environment when given, otherwise from (or into) the data directory."""
    secrets_dir = settings.data_dir / SECRETS_DIRNAME
    needs_files = settings.secret_key is None or settings.field_encryption_key is None
    if needs_files:
        ensure_private_dir(settings.data_dir)
        ensure_private_dir(secrets_dir)

    secret_key = (
        settings.secret_key.get_secret_value()
        if settings.secret_key is not None
        else _read_or_create(secrets_dir / "secret_key", _new_secret_key)
    )
    field_key = (
        settings.field_encryption_key.get_secret_value()
        if settings.field_encryption_key is not None
        else _read_or_create(secrets_dir / FIELD_KEY_FILE, new_field_encryption_key)
    )
    _check_field_key(field_key)
    if settings.field_encryption_previous_keys is not None:
        raw_previous = settings.field_encryption_previous_keys.get_secret_value().split(",")
    else:
        previous_file = secrets_dir / PREVIOUS_FIELD_KEYS_FILE
        raw_previous = previous_file.read_text().split() if previous_file.exists() else []
    previous = tuple(k.strip() for k in raw_previous if k.strip())
    for key in previous:
        _check_field_key(key)
    return AppKeys(
        secret_key=secret_key,
        field_encryption_key=field_key,
        previous_field_encryption_keys=previous,
    )


def _check_field_key(value: str) -> None:
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(
            "CLINICDESK_FIELD_ENCRYPTION_KEY must be 32 bytes in url-safe base64"
        ) from exc
    if len(raw) != 32:
        raise ValueError("CLINICDESK_FIELD_ENCRYPTION_KEY must be 32 bytes in url-safe base64")
