"""Phone numbers: stored in E.164 ("+442079460958"), shown the way the clinic's country writes them.

The default region is the organization's country (ISO 3166-1 alpha-2, e.g. "GB", from the
organization's settings): a number typed without an international prefix ("020 7946
0958") belongs to the clinic's own country. It is a parameter, never a process-wide
setting, because one server hosts clinics in several countries.

Validity comes from Google's libphonenumber metadata (``phonenumbers``), which knows each
country's number plan: a number of the right length in an unassigned range is refused, so
"(555) 123-4567" is not a valid US number (555 is not an area code), while "(201)
555-0123" is.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

# The search box treats a query as a phone number only if it is made of digits and the
# punctuation people write numbers with. "/" is left out so "12/03/1987" stays a date.
_PHONE_QUERY = re.compile(r"\+?[\d\s().\-]+")
_DATE_QUERY = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.](?:\d{2}|\d{4})")
MIN_SEARCH_DIGITS = 6


def normalize_phone(raw: str, *, default_region: str) -> str:
    """The number in E.164, or ``ValueError`` with a message the front desk can act on.

    Accepts any formatting: spaces, dots, dashes, parentheses, "+44", the "00" and "011"
    international prefixes, and letters of vanity numbers ("1-800-FLOWERS"). Refuses
    numbers with an extension: E.164 cannot hold one, and dropping it silently would store
    a number that does not reach the person.
    """
    region = _region(default_region)
    number = _parse(raw, region)
    if number is not None and not phonenumbers.is_valid_number(number):
        # "00" is the international prefix in most of the world, but libphonenumber only
        # applies the one of the default region (011 in North America). A clinic in the
        # US given a British patient's "0044 ..." should still understand it.
        digits = re.sub(r"[^\d+]", "", raw.strip())
        if digits.startswith("00"):
            number = _parse("+" + digits[2:], region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            "This is not a valid phone number; check the digits, and for a number from "
            "another country start with + and the country code."
        )
    if number.extension:
        raise ValueError(
            "Phone extensions cannot be stored; enter the number without the extension."
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def format_phone(e164: str, *, region: str) -> str:
    """The stored number as a person in ``region`` writes it.

    National format for a number of the same country calling code ("020 7946 0958" for a
    clinic in GB; also for Jersey or Guernsey numbers, which share +44 and are dialled the
    same way from Britain), international format otherwise ("+44 20 7946 0958" for a
    clinic in the US). Raises ``ValueError`` for a value that is not E.164: stored numbers
    always are, so that is a bug worth seeing, not something to paper over.
    """
    country_code = phonenumbers.country_code_for_region(_region(region))
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException as error:
        raise ValueError("Not a phone number in E.164 form.") from error
    style = (
        PhoneNumberFormat.NATIONAL
        if number.country_code == country_code
        else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def phone_search_digits(raw: str) -> str | None:
    """The digits to look for if the search query is a phone number, else ``None``.

    A query counts as a phone number when it has only digits, spaces, "+", "(", ")", "-"
    and "." (an optional "+" first), at least ``MIN_SEARCH_DIGITS`` digits, and is not
    shaped like a date. Leading zeros are dropped: a trunk prefix ("020 ...") or the "00"
    international prefix never appears in E.164, and without them the digits are a
    substring of the stored number ("20 7946 0958" is inside "+442079460958"), so the
    caller can match stored numbers that *contain* the returned digits.
    """
    query = raw.strip()
    if not _PHONE_QUERY.fullmatch(query) or _DATE_QUERY.fullmatch(query):
        return None
    # Digits of any script count ("٠٢٠ ..." typed on an Arabic keyboard); stored numbers
    # use ASCII, so they are converted.
    digits = "".join(str(unicodedata.decimal(char)) for char in query if char.isdecimal())
    digits = digits.lstrip("0")
    return digits if len(digits) >= MIN_SEARCH_DIGITS else None


def _region(region: str) -> str:
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown country code for phone numbers: {region!r}.")
    return code


def _parse(raw: str, region: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
