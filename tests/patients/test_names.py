"""Names: what the front desk may type, and the search and phonetic keys derived from it."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.patients.names import MAX_NAME_LENGTH, clean_name, phonetic_keys, search_key

BIDI_CONTROLS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# Mostly letters and marks, salted with everything the rules are about, so that many
# generated names are accepted and the rejected ones hit each rule.
name_like_text = st.text(
    alphabet=st.characters(
        categories=("L", "M", "Zs", "Nd", "Cc", "Cf", "So"),
        include_characters="'\u2019-.·\u200c\u200d \t\n" + BIDI_CONTROLS,
    ),
    max_size=120,
)


@pytest.mark.parametrize(
    "name",
    [
        "José",
        "Nguyễn",
        "Ólafsdóttir",
        "O'Brien",
        "O\u2019Brien",
        "Smith-Jones",
        "李",
        "Мария",
        "St. John",
        "Gal·la",
        "ジョン・スミス",
        "\u0645\u0647\u0631\u200c\u0622\u0633\u0627",  # Persian "Mehrasa" with its ZWNJ
        "\u0915\u094d\u200d\u0937",  # Devanagari conjunct held open by a ZWJ
        "\u02bbOkalani",  # starts with the Hawaiian okina, a letter (U+02BB)
    ],
)
def test_names_of_any_script_are_kept_as_typed(name: str) -> None:
    assert clean_name(name, field="First name") == name


def test_input_is_nfc_normalized_and_whitespace_collapsed() -> None:
    assert clean_name("Jose\u0301", field="First name") == "Jos\u00e9"
    assert clean_name("  Mary \t Ann\n\u00a0Lee ", field="First name") == "Mary Ann Lee"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Smith2", "Last name cannot contain digits."),
        ("Smith \u0663", "Last name cannot contain digits."),  # ARABIC-INDIC DIGIT THREE
        ("Henry \u2162", "Last name cannot contain digits."),  # ROMAN NUMERAL THREE
        ("\u202eSmith", "Last name contains hidden text-direction characters"),
        ("Smi\u2066th\u2069", "Last name contains hidden text-direction characters"),
        ("Smith\u200f", "Last name contains hidden text-direction characters"),
        ("Smi\x00th", "Last name contains hidden formatting characters"),
        ("Smi\x07th", "Last name contains hidden formatting characters"),
        ("Smi\u00adth", "Last name contains hidden formatting characters"),  # soft hyphen
        ("\ufeffSmith", "Last name contains hidden formatting characters"),  # BOM
        ("\u200dSmith", "Last name contains hidden formatting characters"),  # ZWJ at start
        ("Smith \u200c Jones", "Last name contains hidden formatting characters"),
        # Between Latin letters a joiner changes nothing visible: only a hidden difference.
        ("Mehr\u200casa", "Last name contains hidden formatting characters"),
        ("Jo\u200dhn", "Last name contains hidden formatting characters"),
        ("Smith 😀", "Last name can only contain letters, spaces, hyphens, apostrophes"),
        ("Smith@home", "Last name can only contain letters, spaces, hyphens, apostrophes"),
        ("Smith, John", "Last name can only contain letters, spaces, hyphens, apostrophes"),
        ("- '", "Last name must contain at least one letter."),
        ("   ", "Last name is required."),
        ("x" * (MAX_NAME_LENGTH + 1), "Last name must be at most 100 characters long."),
    ],
)
def test_what_cannot_be_in_a_name_is_refused_with_the_field_named(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        clean_name(value, field="Last name")
    # The value is patient data: it must not leak into messages and logs.
    assert not value.strip() or value.strip() not in str(raised.value)


def test_length_limit_counts_the_cleaned_name() -> None:
    assert clean_name("x" * MAX_NAME_LENGTH, field="Last name") == "x" * MAX_NAME_LENGTH
    assert clean_name(f"  {'x' * MAX_NAME_LENGTH}  ", field="Last name") == "x" * MAX_NAME_LENGTH


def test_an_optional_name_may_be_empty() -> None:
    assert clean_name(" \t ", field="Middle name", required=False) == ""


@given(name_like_text)
def test_a_clean_name_is_stable_and_has_no_hidden_characters(value: str) -> None:
    try:
        cleaned = clean_name(value, field="Name")
    except ValueError:
        return
    assert clean_name(cleaned, field="Name") == cleaned
    assert unicodedata.is_normalized("NFC", cleaned)
    assert not set(cleaned) & set(BIDI_CONTROLS)
    assert not any(unicodedata.category(char) in ("Cc", "Nd") for char in cleaned)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert 0 < len(cleaned) <= MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("José Müller", "jose muller"),
        ("Мария", "mariya"),
        ("李", "li"),
        ("Nguyễn", "nguyen"),
        ("Ólafsdóttir", "olafsdottir"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("Smith-Jones", "smith jones"),
        ("  St.  John ", "st john"),
        ("\uff2a\uff4f\uff48\uff4e", "john"),  # full-width letters
        ("Straße", "strasse"),
        ("", ""),
    ],
)
def test_search_key_is_plain_ascii_words(name: str, key: str) -> None:
    assert search_key(name) == key


@given(st.text())
def test_search_key_has_only_lowercase_ascii_words(value: str) -> None:
    key = search_key(value)
    assert re.fullmatch(r"([a-z0-9]+( [a-z0-9]+)*)?", key)
    assert search_key(key) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jon", "John"),
        ("Smith", "Smyth"),
        ("Catherine", "Kathryn"),
        ("Mohammed", "Muhammad"),
        ("Mueller", "Müller"),
        ("Steven", "Stephen"),
        ("Sean", "Shawn"),  # NYSIIS only: Metaphone gives SN / XN
    ],
)
def test_names_that_sound_alike_share_a_phonetic_key(a: str, b: str) -> None:
    assert phonetic_keys(a) & phonetic_keys(b)


def test_phonetic_keys_cover_each_word_but_not_initials() -> None:
    assert phonetic_keys("Anna J. Smith-Jones") == {
        "M:AN",
        "N:AN",
        "M:SM0",
        "N:SNAT",
        "M:JNS",
        "N:JAN",
    }
    assert phonetic_keys("J.") == set()
    assert not phonetic_keys("Smith") & phonetic_keys("Jones")
