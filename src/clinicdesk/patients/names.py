"""Personal names: what the front desk may type, and the keys used to find and match them.

What may be typed (``clean_name``, the stored form) is the rule for every person's name
in ClinicDesk, so it lives in ``clinicdesk.core.names``; it is re-exported here.

``search_key`` and ``phonetic_keys`` are derived from the stored form for search and
duplicate detection; they are never shown.
"""

from __future__ import annotations

import re
import unicodedata

import jellyfish
from anyascii import anyascii

from clinicdesk.core.names import (
    MAX_NAME_LENGTH,
    clean_name,
    look_alike_skeleton,
    mixed_script_words,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "clean_name",
    "look_alike_skeleton",
    "mixed_script_words",
    "phonetic_keys",
    "search_key",
]

_APOSTROPHES = re.compile(r"['\u2019\u02bc`]")
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def search_key(value: str) -> str:
    """ASCII, lower-case words separated by single spaces: what search and matching compare.

    Every script is transliterated (anyascii: "José Müller" -> "jose muller", "Мария" ->
    "mariya", "李" -> "li"), so a name typed on a keyboard without accents still finds the
    record. Apostrophes vanish ("O'Brien" = "OBrien" -> "obrien") because people type them
    or not; hyphens and every other separator become a space, so each part of
    "Smith-Jones" is found on its own.
    """
    if value.isascii():  # most input; skips two full passes over it (ICD index build)
        ascii_text = value.lower()
    else:
        # NFKC first: full-width letters and ligatures ("ﬁ") become their plain letters.
        ascii_text = anyascii(unicodedata.normalize("NFKC", value)).casefold()
    ascii_text = _APOSTROPHES.sub("", ascii_text)
    return " ".join(_NOT_KEY_CHARS.sub(" ", ascii_text).split())


def phonetic_keys(value: str) -> set[str]:
    """Sound-alike codes of each word of the name, prefixed by algorithm ("M:JN", "N:JAN").

    Two algorithms because they fail differently: Metaphone knows English spelling rules
    (Catherine = Kathryn, Geoff = Jeff, Philip = Filip, Steven = Stephen) while NYSIIS,
    built for name registries, keeps vowel positions and so tells apart more short names
    that Metaphone merges. Soundex was not chosen: it keeps the first letter (Catherine !=
    Kathryn) and is coarser than either. The prefix keeps a code of one algorithm from
    equalling an unrelated code of the other. Both codes ignore vowels almost entirely
    ("John" and "Jane" share them), so a shared key is a hint to combine with string
    similarity, never proof on its own. One-letter words (initials) are left out: they
    would "sound like" every name with that initial.
    """
    keys: set[str] = set()
    for word in search_key(value).split():
        if len(word) < 2 or not word.isalpha():
            continue
        keys.add(f"M:{jellyfish.metaphone(word)}")
        keys.add(f"N:{jellyfish.nysiis(word)}")
    return keys
