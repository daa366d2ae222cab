"""Personal names, wherever a person's name is accepted (patients, staff and portal users):
what may be typed, and the script checks that catch look-alike names.

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
  - other invisible format characters (category Cf: zero-width space, soft hyphen, BOM,
    word joiner, tag characters). ZERO WIDTH JOINER / NON-JOINER are kept only *inside a
    word of a script that needs them*: between two letters or marks of the Arabic-script
    family (Persian "مهر‌آسا") or of a Brahmic script of South Asia (a Devanagari conjunct
    held open after a virama). That is the rule of RFC 5892 (CONTEXTJ, Appendix A.1/A.2)
    and of the Unicode core specification, 23.2 "Layout Controls", narrowed to letters.
    In a Latin, Cyrillic, Greek or CJK name a joiner changes nothing visible: "Jo‍hn"
    with one hidden inside looks like "John" and is refused;
  - control characters, symbols and emoji, private-use and unassigned code points;
  - more than ``MAX_NAME_LENGTH`` characters (code points: what a database VARCHAR counts);
  - a name with no letter at all (only punctuation).
* Error messages never repeat the value: it is patient data and ends up in logs.

Mixed scripts are not refused: a name may legitimately combine scripts across its words
("Maria Иванова"), and Japanese mixes kanji and kana within one. A *word* that mixes
Latin with Cyrillic or Greek ("John" typed with a Cyrillic Je, U+0408) is how look-alike names are
made, so ``mixed_script_words`` finds them and ``look_alike_skeleton`` folds them to one
script, and the duplicate check compares and flags them (``patients.matching``).
Script data come from Unicode's Scripts.txt and confusables.txt (UTS #39) as packaged by
``confusable-homoglyphs``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from typing import Annotated, Any

from confusable_homoglyphs import categories
from pydantic import AfterValidator

MAX_NAME_LENGTH = 100

_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c"  # LRM, RLM, ARABIC LETTER MARK
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
_NAME_PUNCTUATION = frozenset("'\u2019-\u2010\u2011.\u00b7\u30fb")

# Scripts whose spelling uses ZWJ/ZWNJ (cursive joining or conjunct forms).
_JOINING_SCRIPTS = frozenset(
    {"ARABIC", "SYRIAC", "NKO", "MONGOLIAN"}
    | {"DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU"}
    | {"KANNADA", "MALAYALAM", "SINHALA"}
)
# Not scripts of their own: punctuation, digits, combining accents shared by all.
_NEUTRAL = frozenset({"COMMON", "INHERITED", "Unknown"})
# Scripts that are written together within one word (UTS #39, "highly restrictive").
_WRITTEN_TOGETHER = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "HANGUL"}),
    frozenset({"HAN", "BOPOMOFO"}),
)
_WORD_BREAKS = re.compile(r"[\s\-\u2010\u2011.\u00b7\u30fb]+")


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
        elif char in _JOINERS and _joins_its_script(text, index):
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


def _joins_its_script(text: str, index: int) -> bool:
    """A joiner between two letters or marks of one script that spells with joiners."""
    if index == 0 or index == len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    if unicodedata.category(before)[0] not in "LM" or unicodedata.category(after)[0] not in "LM":
        return False
    scripts = {_script_near(text, index, -1), _script_near(text, index, +1)}
    return len(scripts) == 1 and scripts <= _JOINING_SCRIPTS


def _script_near(text: str, index: int, step: int) -> str:
    """The script of the nearest character before/after ``index`` that has one (an
    Arabic vowel sign is "inherited": the letter it sits on decides)."""
    position = index + step
    while 0 <= position < len(text):
        script = categories.alias(text[position])
        if script not in _NEUTRAL:
            return str(script)
        position += step
    return "COMMON"


def _person_name(value: str) -> str:
    return clean_name(value, field="Name")


PersonName = Annotated[str, AfterValidator(_person_name)]
"""A person's full name in a request body (staff and portal users), by ``clean_name``."""


def scripts_of(word: str) -> frozenset[str]:
    """The scripts of the letters of ``word`` (punctuation and accents have none)."""
    return frozenset(
        str(script) for script in map(categories.alias, word) if script not in _NEUTRAL
    )


def mixed_script_words(text: str) -> list[str]:
    """The words of ``text`` whose letters come from scripts that are not written together
    ("John" with a Cyrillic Je: Cyrillic and Latin). Words are split at spaces, hyphens
    and dots, so a double-barrelled name with one part in each script is not one."""
    return [word for word in _WORD_BREAKS.split(text) if _is_mixed(scripts_of(word))]


def _is_mixed(scripts: frozenset[str]) -> bool:
    return len(scripts) > 1 and not any(scripts <= together for together in _WRITTEN_TOGETHER)


def look_alike_skeleton(text: str) -> str:
    """``text`` with each mixed-script word written in one script: its letters from a
    minority script are replaced by their look-alikes in the word's main script
    (a Cyrillic Je in "John" becomes a Latin J; a Latin "a" in a Cyrillic word becomes
    the Cyrillic one). Other words are unchanged.
    For comparing names only; never stored or shown."""
    parts = re.split(r"(\s+|[\-\u2010\u2011.\u00b7\u30fb]+)", text)
    return "".join(_fold_word(part) if _is_mixed(scripts_of(part)) else part for part in parts)


def _fold_word(word: str) -> str:
    counts = Counter(s for s in map(categories.alias, word) if s not in _NEUTRAL)
    main = counts.most_common(1)[0][0]
    return "".join(_look_alike_in(char, main) for char in word)


@cache
def _look_alike_in(char: str, script: str) -> str:
    if categories.alias(char) in _NEUTRAL | {script}:
        return char
    # The data are symmetric: each character lists every character it can be taken for.
    for glyph in _confusables().get(char, ()):
        candidate = glyph["c"]
        if len(candidate) == 1 and categories.alias(candidate) == script:
            return str(candidate)
    return char


@cache
def _confusables() -> dict[str, Any]:
    # Loaded on first use (about 1 MB of JSON): only a mixed-script name needs it.
    from confusable_homoglyphs import confusables

    data: dict[str, Any] = confusables.confusables_data
    return data
