"""Secret links and tokens: sign-in sessions, API tokens, one-time links, recovery codes,
display and status links, calendar feeds.

A secret is 256 random bits, URL-safe; only its SHA-256 is stored, so a copy of the
database opens nothing. A plain hash (no salt, no key stretching) is right here: the
input is random and as long as the hash, so there is nothing to guess; a password is a
different thing (``identity.passwords``, argon2id).
"""

from __future__ import annotations

import hashlib
import secrets


def hash_token(raw: str) -> str:
    """What is stored of a secret: its SHA-256, in hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A new secret (shown once, never stored) and its hash (stored)."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)
