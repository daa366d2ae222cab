"""Phone numbers: E.164 storage, display per clinic country, and the search box."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from clinicdesk.patients.phones import format_phone, normalize_phone, phone_search_digits

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("201.555.0123", "US", "+12015550123"),
        ("+1 201 555 0123", "GB", "+12015550123"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        # "00" is not the US international prefix, but a US clinic still understands it.
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        ("030 901820", "de", "+4930901820"),
        ("\u0660\u0662\u0660 7946 0958", "GB", "+442079460958"),  # Arabic-Indic digits
    ],
)
def test_numbers_in_any_format_become_e164(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, default_region=region) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "(555) 123-4567",  # right length, but 555 is not a US area code
        "12",
        "hello",
        "",
        "+44 20 7946",
        "+999 1234 5678",
    ],
)
def test_impossible_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a valid phone number"):
        normalize_phone(raw, default_region="US")


def test_an_extension_is_refused_rather_than_dropped() -> None:
    with pytest.raises(ValueError, match="extensions cannot be stored"):
        normalize_phone("+1 201 555 0123 ext. 45", default_region="US")


def test_an_unknown_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Unknown country code"):
        normalize_phone("020 7946 0958", default_region="XX")


@pytest.mark.parametrize(
    ("e164", "region", "shown"),
    [
        ("+442079460958", "GB", "020 7946 0958"),
        ("+442079460958", "US", "+44 20 7946 0958"),
        ("+12015550123", "US", "(201) 555-0123"),
        ("+12015550123", "CA", "(201) 555-0123"),  # same calling code: dialled the same
        ("+12015550123", "DE", "+1 201-555-0123"),
    ],
)
def test_numbers_show_national_at_home_and_international_abroad(
    e164: str, region: str, shown: str
) -> None:
    assert format_phone(e164, region=region) == shown


def test_formatting_a_value_that_is_not_e164_fails_loudly() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        format_phone("2079460958", region="GB")


# A real-looking fixed-line and mobile number of every country, written as it writes them.
EXAMPLES = [
    (region, phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    for region in REGIONS
    for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
]


@given(st.sampled_from(EXAMPLES), st.sampled_from(REGIONS))
def test_what_a_clinic_shows_it_can_type_back(typed: tuple[str, str], clinic: str) -> None:
    home, national = typed
    e164 = normalize_phone(national, default_region=home)
    shown = format_phone(e164, region=clinic)
    assert normalize_phone(shown, default_region=clinic) == e164


@pytest.mark.parametrize(
    ("query", "digits"),
    [
        ("(201) 555-0123", "2015550123"),
        ("+44 20 7946 0958", "442079460958"),
        ("020 7946 0958", "2079460958"),  # trunk 0 dropped: a substring of +442079460958
        ("0044 20 7946 0958", "442079460958"),
        ("555-0123", "5550123"),
        ("5550123", "5550123"),
        ("55501", None),  # too few digits to be worth a phone search
        ("Smith", None),
        ("John 555 0123", None),
        ("12/03/1987", None),  # dates go to date-of-birth search
        ("1987-03-12", None),
        ("12.03.1987", None),
        ("\u0660\u0662\u0660 7946 0958", "2079460958"),
        ("", None),
    ],
)
def test_search_box_recognises_phone_numbers(query: str, digits: str | None) -> None:
    assert phone_search_digits(query) == digits


@given(st.text())
def test_search_digits_are_ascii_digits_or_nothing(query: str) -> None:
    digits = phone_search_digits(query)
    assert digits is None or (digits.isascii() and digits.isdigit() and len(digits) >= 6)
