"""Money as a person reads it: an amount in minor units shown in the organization's
currency and locale (``$1,234.50`` in ``en``, ``1.234,50 €`` in ``de``, ``¥1,234`` with
no decimals, ``KWD 1,234.500`` with three). Pure; the locale rules are CLDR's (Babel).

The digits shown are always the currency's ISO 4217 minor units (``kernel.money``), so
a printed amount is exactly the stored one: never rounded, never padded with a digit the
currency does not have. (CLDR's own digits differ from ISO 4217 for a few currencies.)
"""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberPattern, format_decimal

from clinicdesk.billing.kernel.money import minor_units, to_major

FALLBACK_LOCALE = "en"


@lru_cache(maxsize=64)
def parse_locale(tag: str | None) -> Locale:
    """The organization's locale (``en``, ``de-AT``, ``pt_BR``); an unknown or malformed
    tag falls back to English rather than stopping a document from printing."""
    text = (tag or "").strip().replace("-", "_")
    try:
        return Locale.parse(text or FALLBACK_LOCALE)
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(FALLBACK_LOCALE)


@lru_cache(maxsize=64)
def _pattern(locale: Locale, digits: int) -> NumberPattern:
    standard: NumberPattern = locale.currency_formats["standard"]
    fixed = copy.copy(standard)
    fixed.frac_prec = (digits, digits)
    return fixed


def format_money(amount: int, currency: str, locale: str | None) -> str:
    """``amount`` minor units of ``currency`` in ``locale``'s currency format, with the
    currency's own number of decimals (ISO 4217)."""
    code = currency.upper()
    where = parse_locale(locale)
    pattern = _pattern(where, minor_units(code))
    text: str = pattern.apply(to_major(amount, code), where, currency=code, currency_digits=False)
    return text


def format_quantity(value: Decimal, locale: str | None) -> str:
    """A quantity (``Decimal("2.500")`` -> ``2.5``) in the locale's decimal format."""
    return format_decimal(value.normalize(), locale=parse_locale(locale))


def format_percent(value: Decimal, locale: str | None) -> str:
    """A rate or discount (``Decimal("20.0000")`` -> ``20%``; ``7.5`` -> ``7.5%``)."""
    return f"{format_decimal(value.normalize(), locale=parse_locale(locale))}%"
