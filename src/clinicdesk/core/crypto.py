"""Field-level encryption of identifiers, and keyed hashes to find them again.

National IDs, insurance member numbers and TOTP secrets are stored encrypted, so a copied
database file or a leaked backup does not expose them. Two things are derived from one
master key (32 random bytes, url-safe base64, ``AppKeys.field_encryption_key``):

* an AES-256-GCM key that encrypts the value, and
* an HMAC-SHA256 key that turns the value into a **lookup hash**, stored in a separate
  indexed column so "find the patient with this national ID" is an exact-match query.
  Encryption is randomised (same plaintext, different token each time), so the encrypted
  column itself can never be compared in SQL; query the lookup-hash column instead.

Both are HKDF-SHA256 sub-keys with distinct ``info`` labels rather than the master key
itself: a key used for two algorithms is a classic source of cross-protocol weaknesses,
and deriving them lets one configured secret serve both purposes.

Token format::

    v1.<kid>.<base64url(nonce || ciphertext+tag), no padding>

* ``v1`` names this scheme (AES-256-GCM, 96-bit random nonce, HKDF sub-key), so a later
  scheme can be introduced without guessing what an old value is.
* ``kid`` is the first 8 hex characters of SHA-256 over a fixed label and the master key.
  It is derived, never stored in configuration, and it tells which key of the ring
  decrypts the token, so keys can be rotated: configure the new key as current and the
  old one as previous, re-encrypt rows at leisure (``needs_rotation``), then drop the old
  key. 32 bits of a hash reveal nothing usable about a 256-bit key.
* The header ``v1.<kid>.`` is authenticated along with the caller's associated data, so a
  token cannot be relabelled. Associated data (AAD) binds a ciphertext to where it belongs
  (for example a row id): a value copied into another row then fails to decrypt instead
  of silently reading back as the other patient's identifier.

Lookup hashes are ``<kid>:<hex>`` and are keyed per master key, so during a rotation a
query must try every key of the ring (``lookup_hashes``) until rows are re-hashed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "EncryptedText",
    "FieldDecryptionError",
    "FieldKeyring",
    "UnknownKeyError",
    "configure_field_encryption",
    "field_keyring",
]

SCHEME: Final = "v1"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12  # 96 bits: the size GCM is specified and analysed for
_TAG_BYTES: Final = 16

_KID_LABEL: Final = b"clinicdesk field key id v1\x00"
_ENCRYPTION_INFO: Final = b"clinicdesk field encryption v1"
_LOOKUP_INFO: Final = b"clinicdesk lookup hash v1"
_KID_PATTERN: Final = re.compile(r"[0-9a-f]{8}")
# b64decode translates altchars but still accepts "+" and "/", so the alphabet is checked
# here: a key or token then has exactly one spelling.
_PADDED_URLSAFE_B64: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_UNPADDED_URLSAFE_B64: Final = re.compile(r"[A-Za-z0-9_-]*")


class FieldDecryptionError(Exception):
    """A token could not be decrypted: malformed, tampered with, or wrong associated data."""


class UnknownKeyError(FieldDecryptionError):
    """The token names a key id that the keyring does not hold."""


def _decode_key(key: str, *, which: str) -> bytes:
    # Messages name the position of the key, never its value: they end up in logs.
    # ``from None`` drops the decoder's error so a traceback carries only this message.
    not_base64 = ValueError(
        f"{which} field encryption key is not padded url-safe base64; expected 32 random "
        "bytes as produced by base64.urlsafe_b64encode (44 characters ending in '=')"
    )
    key = key.strip()
    if not _PADDED_URLSAFE_B64.fullmatch(key):
        raise not_base64
    try:
        raw = base64.b64decode(key.encode("ascii"), altchars=b"-_", validate=True)
    except binascii.Error:
        raise not_base64 from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"{which} field encryption key decodes to {len(raw)} bytes; expected {KEY_BYTES}"
        )
    return raw


def _derive(master: bytes, info: bytes) -> bytes:
    # No salt: the master key is already uniformly random, so a salt would add nothing;
    # the distinct ``info`` labels are what keep the sub-keys independent.
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _UNPADDED_URLSAFE_B64.fullmatch(text):
        raise binascii.Error("not unpadded url-safe base64")
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    aead: AESGCM
    lookup_key: bytes


def _make_key(key: str, *, which: str) -> _Key:
    master = _decode_key(key, which=which)
    kid = hashlib.sha256(_KID_LABEL + master).hexdigest()[:8]
    return _Key(
        kid=kid,
        aead=AESGCM(_derive(master, _ENCRYPTION_INFO)),
        lookup_key=_derive(master, _LOOKUP_INFO),
    )


class FieldKeyring:
    """The current field key, which encrypts, plus previous keys that still decrypt.

    Immutable once built, so one instance can be shared by every thread and task.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        if isinstance(previous, str):
            # A bare string is a Sequence[str] too; iterating it would yield characters.
            raise TypeError("previous must be a sequence of keys, not a single key string")
        self._current = _make_key(current, which="current")
        self._keys: dict[str, _Key] = {self._current.kid: self._current}
        for position, key in enumerate(previous, start=1):
            entry = _make_key(key, which=f"previous #{position}")
            known = self._keys.get(entry.kid)
            if known is None:
                self._keys[entry.kid] = entry
            elif known.lookup_key != entry.lookup_key:
                # Two different keys with the same 32-bit id: tokens would be ambiguous.
                raise ValueError(
                    f"previous #{position} field encryption key has the same key id as "
                    "another key of the ring; generate a new key"
                )
            # else: the same key listed twice (e.g. still in "previous" after a rotation).

    def __repr__(self) -> str:
        return f"FieldKeyring(kids={self.kids()!r})"

    @property
    def current_kid(self) -> str:
        return self._current.kid

    def kids(self) -> list[str]:
        """Key ids of the ring, current first, then previous keys in the configured order."""
        return list(self._keys)

    def encrypt(self, plaintext: str, *, associated_data: bytes = b"") -> str:
        """Encrypt under the current key; the same ``associated_data`` is needed to decrypt."""
        header = f"{SCHEME}.{self._current.kid}."
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._current.aead.encrypt(
            nonce, plaintext.encode("utf-8"), header.encode("ascii") + associated_data
        )
        return header + _b64encode(nonce + ciphertext)

    def decrypt(self, token: str, *, associated_data: bytes = b"") -> str:
        """Decrypt a token made by ``encrypt`` under any key of the ring.

        Raises ``UnknownKeyError`` when the token's key is not in the ring and
        ``FieldDecryptionError`` when the token is malformed, altered, or was encrypted
        with different associated data.
        """
        kid, body = self._split(token)
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError(
                f"field token was encrypted with key id {kid!r}, which is not in the keyring "
                f"(known key ids: {', '.join(self._keys)}); configure that key as a previous key"
            )
        try:
            blob = _b64decode(body)
        except binascii.Error:
            raise FieldDecryptionError("field token body is not url-safe base64") from None
        if len(blob) < NONCE_BYTES + _TAG_BYTES:
            raise FieldDecryptionError("field token is too short to be a ciphertext")
        header = f"{SCHEME}.{kid}.".encode("ascii")
        try:
            plaintext = key.aead.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], header + associated_data
            )
        except InvalidTag:
            raise FieldDecryptionError(
                f"field token under key id {kid!r} failed authentication: it was altered, "
                "or the associated data differs from the data used to encrypt it"
            ) from None
        return plaintext.decode("utf-8")

    def kid_of(self, token: str) -> str:
        """The key id a token was encrypted with (the token is not decrypted)."""
        return self._split(token)[0]

    def needs_rotation(self, token: str) -> bool:
        """True when the token is not under the current key and should be re-encrypted."""
        return self.kid_of(token) != self._current.kid

    def lookup_hash(self, value: str) -> str:
        """Keyed hash of ``value`` under the current key, as ``<kid>:<hex>``.

        Exact match only: the caller normalises the value first (strip spaces and
        separators, fix the case, Unicode NFKC, whatever the identifier's rules are), and
        must normalise the same way when storing and when searching.
        """
        return self._lookup(self._current, value)

    def lookup_hashes(self, value: str) -> list[str]:
        """``lookup_hash`` under every key of the ring, current first.

        For queries while a rotation is under way: ``WHERE hash IN (...)`` finds rows hashed
        under an old key that have not been re-hashed yet. Normalise ``value`` as for
        ``lookup_hash``.
        """
        return [self._lookup(key, value) for key in self._keys.values()]

    @staticmethod
    def _lookup(key: _Key, value: str) -> str:
        digest = hmac.new(key.lookup_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{key.kid}:{digest}"

    @staticmethod
    def _split(token: str) -> tuple[str, str]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != SCHEME:
            raise FieldDecryptionError(f"not a field token: expected '{SCHEME}.<kid>.<data>'")
        _, kid, body = parts
        if not _KID_PATTERN.fullmatch(kid):
            raise FieldDecryptionError("not a field token: malformed key id")
        return kid, body


# The process-wide keyring used by ``EncryptedText``. Replaced whole, never mutated, so a
# reader sees either the old or the new keyring; the lock only orders concurrent writers.
_keyring: FieldKeyring | None = None
_keyring_lock = threading.Lock()


def configure_field_encryption(keyring: FieldKeyring) -> None:
    """Install the keyring that ``EncryptedText`` columns use (once, at startup)."""
    global _keyring
    with _keyring_lock:
        _keyring = keyring


def field_keyring() -> FieldKeyring:
    """The configured keyring; raises RuntimeError before ``configure_field_encryption``."""
    keyring = _keyring
    if keyring is None:
        raise RuntimeError(
            "field encryption is not configured: call configure_field_encryption() at startup"
        )
    return keyring


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a field token and read back as plaintext.

    Uses the process-wide keyring (``configure_field_encryption``). The stored value is
    randomised, so equality and ordering in SQL are meaningless: search through a separate
    lookup-hash column (``FieldKeyring.lookup_hash``). No associated data is used, because a
    column type cannot see the row it belongs to.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        # Always encrypt, even a value that looks like a token: passing such values through
        # would let a user-supplied "v1...." string land in the column unencrypted, or be
        # read back as someone else's identifier.
        return field_keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return field_keyring().decrypt(value)
