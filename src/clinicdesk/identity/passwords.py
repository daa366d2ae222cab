"""Password policy and hashing.

* argon2id (argon2-cffi) with RFC 9106-style parameters tuned to this hardware; hashes
  made with older parameters are upgraded at the next successful sign-in.
* 12 to 256 characters of any Unicode, normalised (NFKC) so the same password typed on
  different keyboards matches; never truncated.
* Refused when it is one of the 30,000 most common passwords (zxcvbn's list), or is the
  user's own e-mail address or name.
* Hashing runs in a worker thread: it takes tens of milliseconds and must not stall the
  event loop.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clinicdesk.identity.errors import PasswordRejected

MIN_LENGTH = 12
MAX_LENGTH = 256

# time_cost=3, 64 MiB, 2 lanes: RFC 9106's second recommended option, with as many lanes
# as this class of machine has cores. See benchmarks/login.py for the latency it costs.
HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)


@cache
def _common_passwords() -> frozenset[str]:
    # Imported on first use: zxcvbn's word lists cost about 15 MiB, and most server
    # processes never set a password.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, email: str | None = None, name: str | None = None) -> None:
    """Raise ``PasswordRejected`` with a reason a person can act on."""
    value = normalize(password)
    if len(value) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters.")
    if len(value) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    folded = value.casefold()
    if not folded.strip():
        raise PasswordRejected("A password cannot be only spaces.")
    if folded in _common_passwords():
        raise PasswordRejected(
            "This password is too common and appears in breached-password lists; "
            "choose another (a few unrelated words work well)."
        )
    personal = {p.casefold() for p in (email, email.split("@")[0] if email else None, name) if p}
    if folded in personal:
        raise PasswordRejected("Do not use your e-mail address or name as your password.")
    if len(set(folded)) < 4:
        raise PasswordRejected("Use more different characters.")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, normalize(password))


@cache
def _dummy_hash() -> str:
    return HASHER.hash("clinicdesk-dummy-password-for-timing")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (unknown account, invitation not yet
    accepted) a dummy hash is checked, so the answer takes the same time either way."""

    def check() -> bool:
        target = password_hash or _dummy_hash()
        try:
            matched = HASHER.verify(target, normalize(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    return await anyio.to_thread.run_sync(check)


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)
