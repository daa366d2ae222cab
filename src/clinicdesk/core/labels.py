"""The words people read for a vocabulary's stored values ("fulfilled" -> "Seen"), from one
place: each domain declares the labels of its vocabularies next to them (a ``LABELS``
mapping in ``<domain>/vocabulary.py``) and the application registers them when it is
built; pages show a value with ``{{ a.status | label("appointment_status") }}``.

A value without a label (a vocabulary no one labelled, a value added later) is still
written for people — ``in_consultation`` -> ``In consultation`` — never shown raw."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

_VOCABULARIES: dict[str, dict[str, str]] = {}


def register_labels(vocabularies: Mapping[str, Mapping[str, str]]) -> None:
    """Add (or replace) the labels of the named vocabularies. Idempotent."""
    for name, labels in vocabularies.items():
        _VOCABULARIES[name] = {str(value): text for value, text in labels.items()}


def humanize(text: str) -> str:
    """``in_consultation`` / ``patient.viewed`` -> ``In consultation`` / ``Patient viewed``."""
    words = text.replace("_", " ").replace("-", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]


def label(value: object, vocabulary: str | None = None) -> str:
    """The label of ``value`` in ``vocabulary``; a dash for no value."""
    if value is None or value == "":
        return "—"
    text = str(value.value) if isinstance(value, Enum) else str(value)
    if vocabulary is not None:
        found = _VOCABULARIES.get(vocabulary, {}).get(text)
        if found is not None:
            return found
    return humanize(text)
