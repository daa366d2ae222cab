"""Duplicate-patient scoring: how much two sets of facts look like the same person.

The database picks the candidates (same birth date, phone, phonetic key ...); this module
only scores a pair. It never merges anything: a "likely" match is put in front of a person
who decides.

How the score is made: each fact that agrees or disagrees adds a weight; the sum is
clamped to 0..1 and every weight is returned as a ``MatchReason`` so the screen can say
why. Negative weights (codes starting "different_") are evidence *against*; a UI listing
"why we think this is the same patient" shows only ``weight > 0``. Facts missing on
either side add nothing.

=========================  =======  =====================================================
reason                     weight   why this much
=========================  =======  =====================================================
same_national_id            +0.95   issued to one person: alone it is a likely match
different_national_id       -0.40   both known and different; as strong as a different
                                    birth date, not more: IDs get mistyped
same_name                   +0.55   given + family equal after transliteration (José
                                    Müller = Jose Mueller); common names make it weak alone
swapped_names               +0.50   given/family entered the other way round (+0.40 when
                                    also misspelled)
similar_name                +0.45   one typo per name, transliteration variants
                                    (Mohammed/Muhammad), a dropped second surname
sounds_alike                +0.35   same Metaphone/NYSIIS code and Jaro-Winkler >= 0.75
same_family_name            +0.10   only the family name agrees (relatives share it)
same_given_name             +0.10   only the given name agrees (a marriage changes the
                                    family name)
different_middle_name       -0.10   both recorded and incompatible (an initial matches)
look_alike_letters          +0.20   the names agree once a word that mixes scripts is
                                    folded to one ("John" typed with a Cyrillic Je):
                                    a homoglyph spoof or a keyboard-layout slip, either
                                    way most likely the same person, and the screen says
                                    so
same_birth_date             +0.35   the strongest everyday fact besides the name
birth_date_typo             +0.15   day/month swapped, one digit wrong or two adjacent
                                    digits swapped; also cancels the penalty below
different_birth_date        -0.40   a parent and child with the same name differ here
same_phone                  +0.15   shared by a household, so small
same_email                  +0.10   often a parent's or carer's address, so smaller
=========================  =======  =====================================================

Thresholds, calibrated by tests/patients/test_matching.py:

* ``LIKELY`` (0.75): same name + same birth date (0.90); a typo in the name + same birth
  date (0.80); a name that only sounds alike needs the birth date *and* a phone (0.85).
* ``POSSIBLE`` (0.45): same name and nothing else known (0.55); same name with a birth
  date typo (0.70); twins - same family name, birth date, phone and e-mail, other given
  names - reach 0.70: shown as possible, never as likely.
* A name that equals another only once a mixed-script word is folded ("John Smith" with
  a Cyrillic Je / "John Smith") is likely (0.75) on the name alone: nobody types that by chance.
* Below: same name with a different birth date and phone (0.15) - a different person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from clinicdesk.patients.names import (
    look_alike_skeleton,
    mixed_script_words,
    phonetic_keys,
    search_key,
)

LIKELY = 0.75
POSSIBLE = 0.45

SAME_NATIONAL_ID = 0.95
DIFFERENT_NATIONAL_ID = -0.40
SAME_NAME = 0.55
SWAPPED_NAMES = 0.50
SWAPPED_SIMILAR_NAMES = 0.40
SIMILAR_NAME = 0.45
SOUNDS_ALIKE = 0.35
SAME_FAMILY_NAME = 0.10
SAME_GIVEN_NAME = 0.10
DIFFERENT_MIDDLE_NAME = -0.10
LOOK_ALIKE_LETTERS = 0.20
_NAME_AGREES = frozenset({"same_name", "similar_name", "swapped_names"})
SAME_BIRTH_DATE = 0.35
BIRTH_DATE_TYPO = 0.15
DIFFERENT_BIRTH_DATE = -0.40
SAME_PHONE = 0.15
SAME_EMAIL = 0.10

# Jaro-Winkler rewards a shared start, so short different names score high ("Mary" /
# "Mark" 0.88): it only decides "similar" for names of 6+ letters, where 0.92 means about
# two small edits. A shared phonetic code counts only above 0.75, which keeps "John" /
# "Jane" (same codes, 0.67) apart and lets "Catherine" / "Kathryn" (0.76) through.
_SIMILAR_JARO_WINKLER = 0.92
_SIMILAR_JARO_WINKLER_MIN_LENGTH = 6
_SOUNDS_ALIKE_JARO_WINKLER = 0.75

# German and Scandinavian letters have a second, official ASCII spelling ("Müller" is
# also "Mueller", "Søren" also "Soeren"); anyascii gives the first ("Muller"), so both
# are compared. Only a name that contains the letter gets the variant: folding "ue" -> "u"
# everywhere would make "Michael" equal "Michal".
_DIGRAPHS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "æ": "ae"}
    | {"Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "Oe", "Å": "Aa", "Æ": "Ae"}
)


@dataclass(frozen=True)
class PersonFacts:
    given_name: str
    family_name: str
    middle_name: str | None
    birth_date: date | None
    phones: frozenset[str]  # E.164
    national_id_hash: str | None  # keyed lookup hash, compared for equality only
    email: str | None


@dataclass(frozen=True)
class MatchReason:
    code: str
    label: str  # for the screen; it names both patients, so it is never logged
    weight: float  # < 0: evidence against


@dataclass(frozen=True)
class MatchScore:
    score: float
    reasons: tuple[MatchReason, ...]

    @property
    def likely(self) -> bool:
        return self.score >= LIKELY

    @property
    def possible(self) -> bool:
        """At least possible (``likely`` included)."""
        return self.score >= POSSIBLE


class _Tier(IntEnum):
    DIFFERENT = 0
    SOUNDS_ALIKE = 1
    SIMILAR = 2
    SAME = 3


@dataclass(frozen=True)
class _Part:
    """One name field, prepared for comparison."""

    text: str
    keys: frozenset[str]  # search keys: plain transliteration and the digraph variant
    phonetic: frozenset[str]

    @classmethod
    def of(cls, text: str | None) -> _Part:
        text = text or ""
        # A word mixing scripts is compared as written and folded to one script: "Carol"
        # typed with a Cyrillic Es transliterates to "Sarol", which is not "Carol".
        folded = text if text.isascii() else look_alike_skeleton(text)
        variants = (text, text.translate(_DIGRAPHS), folded)
        keys = frozenset(key for key in map(search_key, variants) if key)
        phonetic = frozenset(code for variant in variants for code in phonetic_keys(variant))
        return cls(text=text, keys=keys, phonetic=phonetic)


def score_match(new: PersonFacts, existing: PersonFacts) -> MatchScore:
    """How likely ``new`` and ``existing`` describe the same person (see the module doc).

    Symmetric in its arguments, apart from the order of names in the labels.
    """
    reasons: list[MatchReason] = []
    if new.national_id_hash is not None and existing.national_id_hash is not None:
        if new.national_id_hash == existing.national_id_hash:
            reasons.append(MatchReason("same_national_id", "Same national ID", SAME_NATIONAL_ID))
        else:
            reasons.append(
                MatchReason("different_national_id", "Different national ID", DIFFERENT_NATIONAL_ID)
            )
    reasons.extend(_name_reasons(new, existing))
    reasons.extend(_birth_date_reasons(new.birth_date, existing.birth_date))
    if new.phones & existing.phones:
        reasons.append(MatchReason("same_phone", "Same phone number", SAME_PHONE))
    if new.email and existing.email and _email_key(new.email) == _email_key(existing.email):
        reasons.append(MatchReason("same_email", "Same e-mail address", SAME_EMAIL))

    total = sum(reason.weight for reason in reasons)
    # Rounded so that sums of two-decimal weights land exactly on the thresholds
    # (0.40 + 0.35 is 0.75, not 0.7499999).
    score = round(min(1.0, max(0.0, total)), 4)
    return MatchScore(score=score, reasons=tuple(reasons))


def _name_reasons(new: PersonFacts, existing: PersonFacts) -> list[MatchReason]:
    new_given, new_family = _Part.of(new.given_name), _Part.of(new.family_name)
    old_given, old_family = _Part.of(existing.given_name), _Part.of(existing.family_name)
    names = f"({_display(new)} / {_display(existing)})"

    given = _compare(new_given, old_given)
    family = _compare(new_family, old_family)
    present = [tier for tier in (given, family) if tier is not None]
    straight = min(present) if present else None

    options: list[MatchReason] = []
    if straight == _Tier.SAME:
        options.append(MatchReason("same_name", f"Same name {names}", SAME_NAME))
    elif straight == _Tier.SIMILAR:
        options.append(MatchReason("similar_name", f"Similar name {names}", SIMILAR_NAME))
    elif straight == _Tier.SOUNDS_ALIKE:
        options.append(MatchReason("sounds_alike", f"Name sounds alike {names}", SOUNDS_ALIKE))

    if all(part.keys for part in (new_given, new_family, old_given, old_family)):
        swapped = min(
            _compare_present(new_given, old_family), _compare_present(new_family, old_given)
        )
        label = f"Given and family names swapped {names}"
        if swapped == _Tier.SAME:
            options.append(MatchReason("swapped_names", label, SWAPPED_NAMES))
        elif swapped == _Tier.SIMILAR:
            options.append(MatchReason("swapped_names", label, SWAPPED_SIMILAR_NAMES))

    if not options:
        if family == _Tier.SAME:
            options.append(MatchReason("same_family_name", "Same family name", SAME_FAMILY_NAME))
        elif given == _Tier.SAME:
            options.append(MatchReason("same_given_name", "Same given name", SAME_GIVEN_NAME))

    reasons = [max(options, key=lambda reason: reason.weight)] if options else []
    name_agrees = bool(reasons) and reasons[0].code in _NAME_AGREES
    if name_agrees and _mixes_scripts(new, existing):
        label = f"Look-alike letters from another alphabet in a name {names}"
        reasons.append(MatchReason("look_alike_letters", label, LOOK_ALIKE_LETTERS))
    if new.middle_name and existing.middle_name:
        new_middle, old_middle = _Part.of(new.middle_name), _Part.of(existing.middle_name)
        if new_middle.keys and old_middle.keys and not _middle_names_agree(new_middle, old_middle):
            reasons.append(
                MatchReason("different_middle_name", "Different middle name", DIFFERENT_MIDDLE_NAME)
            )
    return reasons


def _mixes_scripts(*people: PersonFacts) -> bool:
    return any(
        mixed_script_words(name)
        for person in people
        for name in (person.given_name, person.middle_name, person.family_name)
        if name and not name.isascii()
    )


def _compare(a: _Part, b: _Part) -> _Tier | None:
    """How close two name fields are; ``None`` when neither has one (nothing to compare)."""
    if not a.keys and not b.keys:
        return None
    best = _Tier.DIFFERENT
    for x in a.keys:
        for y in b.keys:
            best = max(best, _compare_keys(x, y))
    if best < _Tier.SOUNDS_ALIKE and a.phonetic & b.phonetic:
        similarity = max(JaroWinkler.similarity(x, y) for x in a.keys for y in b.keys)
        if similarity >= _SOUNDS_ALIKE_JARO_WINKLER:
            best = _Tier.SOUNDS_ALIKE
    return best


def _compare_present(a: _Part, b: _Part) -> _Tier:
    tier = _compare(a, b)
    return _Tier.DIFFERENT if tier is None else tier


def _compare_keys(x: str, y: str) -> _Tier:
    # Spaces are not significant: "De la Cruz" / "Delacruz", "Mary Ann" / "Maryann".
    if x.replace(" ", "") == y.replace(" ", ""):
        return _Tier.SAME
    x_words, y_words = set(x.split()), set(y.split())
    # One name is part of the other: a second surname dropped ("Garcia" / "Garcia Lopez"),
    # a middle name typed into the given-name field ("John" / "John Paul").
    if x_words <= y_words or y_words <= x_words:
        return _Tier.SIMILAR
    shorter = min(len(x), len(y))
    allowed_edits = 2 if shorter >= 8 else 1 if shorter >= 3 else 0
    if DamerauLevenshtein.distance(x, y, score_cutoff=allowed_edits + 1) <= allowed_edits:
        return _Tier.SIMILAR
    if (
        shorter >= _SIMILAR_JARO_WINKLER_MIN_LENGTH
        and JaroWinkler.similarity(x, y) >= _SIMILAR_JARO_WINKLER
    ):
        return _Tier.SIMILAR
    return _Tier.DIFFERENT


def _middle_names_agree(a: _Part, b: _Part) -> bool:
    compared = _compare(a, b)
    if compared is not None and compared >= _Tier.SIMILAR:
        return True
    # "J." and "James" agree: an initial is a common way to record a middle name.
    return any((len(x) == 1 or len(y) == 1) and x[0] == y[0] for x in a.keys for y in b.keys)


def _birth_date_reasons(a: date | None, b: date | None) -> list[MatchReason]:
    if a is None or b is None:
        return []
    if a == b:
        return [MatchReason("same_birth_date", "Same date of birth", SAME_BIRTH_DATE)]
    if _looks_like_typo(a, b):
        label = f"Date of birth nearly the same ({a.isoformat()} / {b.isoformat()})"
        return [MatchReason("birth_date_typo", label, BIRTH_DATE_TYPO)]
    return [MatchReason("different_birth_date", "Different date of birth", DIFFERENT_BIRTH_DATE)]


def _looks_like_typo(a: date, b: date) -> bool:
    """Day and month swapped, one digit wrong, or two neighbouring digits swapped."""
    if a.day == b.month and a.month == b.day:
        return True
    x, y = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    differing = [index for index in range(len(x)) if x[index] != y[index]]
    if len(differing) == 1:
        return True
    first, *rest = differing
    return rest == [first + 1] and x[first] == y[first + 1] and x[first + 1] == y[first]


def _email_key(email: str) -> str:
    # The local part is case-sensitive in theory and never in practice.
    return email.strip().casefold()


def _display(facts: PersonFacts) -> str:
    return " ".join(part for part in (facts.given_name, facts.family_name) if part)
