"""Password policy and hashing.

* argon2id (argon2-cffi) with RFC 9106-style parameters tuned to this hardware; hashes
  made with older parameters are upgraded at the next successful sign-in.
* 12 to 256 characters of any Unicode, normalised (NFKC) so the same password typed on
  different keyboards matches; never truncated.
* Strong enough: zxcvbn's estimate of the guesses an attacker needs must reach 10^10 (its
  score 4, "strong protection from an offline slow-hash attack": what a stolen copy of the
  user table is). The estimate knows common passwords, words, names, keyboard patterns,
  sequences, repeats, dates and look-alike substitutions, so "Summer2024!!" and
  "Passw0rd!Passw0rd!" fail although neither is on a list, while a few unrelated words
  pass. The user's name, e-mail address and the clinic's name count as known words.
  Score 3 (10^8) was not enough: "Summer2024!!" reaches it.
* A refusal says why in plain words (what the password is built from) and what to do.
* Hashing and the estimate run in a worker thread: they take tens of milliseconds (the
  estimate up to ~150 ms for a long password) and must not stall the event loop.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import cache, partial
from typing import Any

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clinicdesk.identity.errors import PasswordRejected

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_GUESSES_LOG10 = 10
# zxcvbn refuses longer input (its matching is quadratic in the length). A longer
# password is judged by its first 72 characters: padding a weak start cannot rescue it,
# and a strong start stays strong whatever follows.
_ESTIMATE_LENGTH = 72

# time_cost=3, 64 MiB, 2 lanes: RFC 9106's second recommended option, with as many lanes
# as this class of machine has cores. See benchmarks/login.py for the latency it costs.
HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)

# zxcvbn keeps the user's words in a module-level dictionary that every call replaces:
# two estimates at once in different threads would see each other's words.
_ESTIMATE_LOCK = threading.Lock()
_YEAR = re.compile(r"(19|20)\d\d")
_WORDS = re.compile(r"[^\W_]+")
_TLDS = frozenset({"com", "org", "net", "edu", "gov"})  # say nothing about the person

_DICTIONARY_REASONS = {
    "passwords": "a commonly used password",
    "user_inputs": "personal details (your name, e-mail address or the clinic's name)",
    "male_names": "a common first name",
    "female_names": "a common first name",
    "surnames": "a common family name",
    "english_wikipedia": "a common word",
    "us_tv_and_film": "a common word",
}


@cache
def _zxcvbn() -> Any:
    # Imported on first use: zxcvbn's word lists cost about 15 MiB, and most server
    # processes never set a password.
    from zxcvbn import zxcvbn

    return zxcvbn


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def personal_words(*values: str | None) -> list[str]:
    """What an attacker who knows the person tries first: each value whole and its words
    ("dana.reyes@clinic.org" -> also "dana", "reyes", "clinic")."""
    words: list[str] = []
    for value in values:
        if not value:
            continue
        folded = normalize(value).casefold()
        words.append(folded)
        words.extend(w for w in _WORDS.findall(folded) if len(w) >= 3 and w not in _TLDS)
    return list(dict.fromkeys(words))


def check_policy(
    password: str,
    *,
    email: str | None = None,
    name: str | None = None,
    organization: str | None = None,
) -> None:
    """Raise ``PasswordRejected`` with a reason a person can act on.

    ``email``, ``name`` and ``organization`` (the clinic's name) are what the password
    must not be built from. CPU-bound (up to ~150 ms): async code calls ``enforce``."""
    value = normalize(password)
    if len(value) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters.")
    if len(value) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    folded = value.casefold()
    if not folded.strip():
        raise PasswordRejected("A password cannot be only spaces.")
    personal = {p.casefold() for p in (email, email.split("@")[0] if email else None, name) if p}
    if folded in personal:
        raise PasswordRejected("Do not use your e-mail address or name as your password.")
    if len(set(folded)) < 4:
        raise PasswordRejected("Use more different characters.")
    words = personal_words(email, name, organization)
    estimate = _estimate(value, words)
    if estimate["guesses_log10"] < MIN_GUESSES_LOG10:
        raise PasswordRejected(_explain(estimate["sequence"]))
    # zxcvbn counts a known word as a few guesses but still adds what surrounds it, so a
    # name and a year ("Quintero-Valdespino 1984") can pass. What is left once the
    # person's and the clinic's words are taken out must be strong on its own.
    rest = _without(value, words)
    if rest != value:
        left = _estimate(rest, words) if len(rest.strip()) >= 4 else None
        if left is None or left["guesses_log10"] < MIN_GUESSES_LOG10:
            raise PasswordRejected(
                _explain([{"pattern": "dictionary", "dictionary_name": "user_inputs"}])
            )


async def enforce(
    password: str,
    *,
    email: str | None = None,
    name: str | None = None,
    organization: str | None = None,
) -> None:
    """``check_policy`` in a worker thread."""
    await anyio.to_thread.run_sync(
        partial(check_policy, password, email=email, name=name, organization=organization)
    )


def _estimate(value: str, words: list[str]) -> dict[str, Any]:
    with _ESTIMATE_LOCK:
        result: dict[str, Any] = _zxcvbn()(value[:_ESTIMATE_LENGTH], user_inputs=words)
    return result


def _without(value: str, words: list[str]) -> str:
    """``value`` with every personal word of 3+ letters taken out (case-insensitive)."""
    rest = value
    for word in sorted(words, key=len, reverse=True):
        if len(word) >= 3:
            rest = re.sub(re.escape(word), " ", rest, flags=re.IGNORECASE)
    return rest


def _explain(sequence: Iterable[dict[str, Any]]) -> str:
    """zxcvbn's analysis in plain words: which guessable parts the password is made of.
    Its own feedback is often empty for middling passwords ("Summer2024!!" gets none), so
    the reasons come from the parts it matched; the password itself is never repeated
    (messages end up in logs)."""
    reasons: list[str] = []
    substitutions = False
    for part in sequence:
        pattern = part.get("pattern")
        if pattern == "dictionary":
            reasons.append(_DICTIONARY_REASONS.get(part.get("dictionary_name", ""), "a word"))
            substitutions = substitutions or bool(part.get("l33t"))
            if part.get("reversed"):
                reasons.append("a word spelt backwards")
        elif pattern == "repeat":
            reasons.append("a repeated part")
        elif pattern == "sequence":
            reasons.append("a run of letters or digits such as abc or 1234")
        elif pattern == "spatial":
            reasons.append("a keyboard pattern such as qwerty")
        elif pattern in ("date", "regex") or _YEAR.search(part.get("token", "")):
            reasons.append("a year or a date")
    unique = list(dict.fromkeys(reasons))
    made_of = (
        "it is built from " + _join(unique)
        if unique
        else "it is too short for the kinds of characters it uses"
    )
    message = f"This password would be too easy to guess: {made_of}."
    if substitutions:
        message += " Swapping letters for look-alike digits or symbols (a → @) does not help."
    return (
        message + " Add a few more unrelated words — a short phrase only you would think of "
        "works well and is easy to remember."
    )


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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
