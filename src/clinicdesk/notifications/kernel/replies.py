"""What a patient's text reply means: the first word, case- and accent-tolerant."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from clinicdesk.notifications.vocabulary import (
    CALL_BACK_WORDS,
    CANCEL_WORDS,
    CONFIRM_WORDS,
    START_WORDS,
    STOP_WORDS,
)


class Intent(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    CALL_BACK = "call_back"
    STOP = "stop"
    START = "start"
    UNKNOWN = "unknown"


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def intent_of(body: str) -> Intent:
    """STOP words win over everything (a carrier requirement); otherwise a reply that is
    one keyword (with punctuation or a trailing word like "thanks" ignored) is an
    answer; anything else goes to a person."""
    text = _plain(body).strip()
    words = "".join(c if c.isalnum() or c.isspace() else " " for c in text).split()
    if not words:
        return Intent.UNKNOWN
    if words[0] in STOP_WORDS or text in STOP_WORDS:
        return Intent.STOP
    if " ".join(words[:2]) in START_WORDS or words[0] in START_WORDS:
        return Intent.START
    if len(words) > 2:
        return Intent.UNKNOWN
    first = words[0]
    if first in {_plain(w) for w in CONFIRM_WORDS}:
        return Intent.CONFIRM
    if first in {_plain(w) for w in CANCEL_WORDS}:
        return Intent.CANCEL
    if first in {_plain(w) for w in CALL_BACK_WORDS}:
        return Intent.CALL_BACK
    return Intent.UNKNOWN
