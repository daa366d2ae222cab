"""Personal names: what the front desk may type, and the keys used to find and match them.

Rules of ``clean_name`` (the stored form):

* NFC-normalised, so "José" typed with a combining accent and "José" typed precomposed are
  the same text; leading/trailing whitespace removed and any run of whitespace (tabs,
  newlines, no-break spaces from a pasted e-mail) becomes one space.
* Any script is welcome: letters and combining marks of every language, plus the
  punctuation names really use: apostrophes (U+0027, U+2019), hyphens (U+002D, U+2010,
  U+2011), the period ("St. John"), and the middle dots of Catalan ("Gal·la") and
  katakana ("ジョン・スミス").
* Refused, with a message naming the field:
  - digits ("Smith 2" is a note, not a name; suffixes are written "III", not "3");
  - bidirectional controls (U+200E/F, U+061C, U+202A-E, U+2066-9): invisible, they can
    make a name display differently from what is stored ("Trojan Source" spoofing);
  - other invisible format characters (soft hyphen, BOM, word joiner, tag characters),
    except ZERO WIDTH JOINER / NON-JOINER *between two letters*: Persian, Hindi, Malayalam
    and other scripts need them to spell a name correctly; anywhere else they only hide
    text;
  - control characters, symbols and emoji, private-use and unassigned code points;
  - more than ``MAX_NAME_LENGTH`` characters (code points: what a database VARCHAR counts);
  - a name with no letter at all (only punctuation).
* Error messages never repeat the value: it is patient data and ends up in logs.

``search_key`` and ``phonetic_keys`` are derived from the stored form for search and
duplicate detection; they are never shown.
"""

from __future__ import annotations

import re
import unicodedata

import jellyfish
from anyascii import anyascii

MAX_NAME_LENGTH = 100

_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c"  # LRM, RLM, ARABIC LETTER MARK
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
_NAME_PUNCTUATION = frozenset("'\u2019-\u2010\u2011.\u00b7\u30fb")

_APOSTROPHES = re.compile(r"['\u2019\u02bc`]")
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def clean_name(value: str, *, field: str, required: bool = True) -> str:
    """The name as it is stored, or ``ValueError`` saying what to fix.

    ``field`` is the label the form shows ("First name"), so the message reads naturally
    at the front desk. An optional field left empty returns "".
    """
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        if required:
            raise ValueError(f"{field} is required.")
        return ""
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"{field} must be at most {MAX_NAME_LENGTH} characters long.")

    has_letter = False
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] == "L":
            has_letter = True
        elif category[0] == "M" or char == " " or char in _NAME_PUNCTUATION:
            continue
        elif category[0] == "N":
            raise ValueError(f"{field} cannot contain digits.")
        elif char in _BIDI_CONTROLS:
            raise ValueError(
                f"{field} contains hidden text-direction characters; please retype it."
            )
        elif char in _JOINERS and _between_letters(text, index):
            continue
        elif category in ("Cc", "Cf"):
            raise ValueError(f"{field} contains hidden formatting characters; please retype it.")
        else:
            raise ValueError(
                f"{field} can only contain letters, spaces, hyphens, apostrophes and periods."
            )
    if not has_letter:
        raise ValueError(f"{field} must contain at least one letter.")
    return text


def _between_letters(text: str, index: int) -> bool:
    if index == 0 or index == len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    return unicodedata.category(before)[0] in "LM" and unicodedata.category(after)[0] in "LM"


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
