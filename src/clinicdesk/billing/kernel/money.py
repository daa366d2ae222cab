"""Money arithmetic of billing: pure functions, no I/O.

Amounts are integers in the currency's minor unit (cents for USD, yen for JPY, fils
for KWD), as ISO 4217 defines it (the ``iso4217`` package's ``exponent``). Never float:
rates and percentages are ``Decimal`` and every product is rounded back to an integer
once, at a stated place.

Rounding rule: **per line, half-up** (0.5 of a minor unit rounds away from zero). Each
line's gross (quantity x unit price), its discount, its share of an invoice discount and
each of its taxes are rounded on that line; the invoice's figures are the sums of its
lines' rounded figures, so the invoice total always equals the sum of the line totals.

Invoice-level discounts are spread over the lines before tax (a discount lowers the
taxable amount): a percentage is applied to each line and rounded there; an amount is
shared in proportion to the lines' net amounts by largest remainder, so the shares add
up to the amount exactly. No figure ever goes below zero: a discount is capped at what
it discounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from iso4217 import Currency

HUNDRED = Decimal(100)


class UnknownCurrency(ValueError):
    pass


def minor_units(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (ISO 4217): 2 for EUR, 0 for JPY,
    3 for KWD. Currencies without minor units in the standard (XAU ...) are refused."""
    try:
        exponent = Currency(currency.upper()).exponent
    except ValueError as exc:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code") from exc
    if exponent is None:
        raise UnknownCurrency(f"{currency} has no minor unit; it cannot be invoiced")
    return int(exponent)


def half_up(value: Decimal) -> int:
    """``value`` (in minor units) rounded to a whole minor unit, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal, currency: str) -> int:
    """A major-unit decimal ("12.50" EUR) in minor units (1250); refuses sub-minor digits."""
    digits = minor_units(currency)
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} has {digits} decimal places; {amount} has more")
    return int(scaled)


def to_major(amount: int, currency: str) -> Decimal:
    """Minor units back as a decimal in major units (1250 -> Decimal("12.50"))."""
    digits = minor_units(currency)
    return Decimal(amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def in_words(amount: int, currency: str) -> str:
    """An amount as a refusal message says it to anyone, page or API client: major units
    and the ISO code (``1250`` -> ``"12.50 USD"``); the problem's fields keep minor units."""
    return f"{to_major(amount, currency)} {currency}"


def percent_of(amount: int, percent: Decimal) -> int:
    return half_up(Decimal(amount) * percent / HUNDRED)


@dataclass(frozen=True, slots=True)
class Discount:
    """A percentage (0..100) or an amount in minor units; at most one is set."""

    percent: Decimal | None = None
    amount: int | None = None

    def of(self, base: int) -> int:
        """The discount on ``base``, never more than ``base`` nor below zero."""
        if self.percent is not None:
            value = percent_of(base, self.percent)
        elif self.amount is not None:
            value = self.amount
        else:
            return 0
        return max(0, min(value, base))


NO_DISCOUNT = Discount()


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: Decimal
    unit_price: int
    tax_rates: Sequence[Decimal] = ()
    discount: Discount = NO_DISCOUNT


@dataclass(frozen=True, slots=True)
class LineFigures:
    gross: int  # quantity x unit price
    line_discount: int
    invoice_discount: int  # this line's share of the invoice's discount
    net: int  # the taxable amount
    taxes: tuple[int, ...]  # one per tax rate, in order
    tax: int
    total: int


@dataclass(frozen=True, slots=True)
class InvoiceFigures:
    lines: tuple[LineFigures, ...]
    subtotal: int  # sum of gross
    discount_total: int  # line and invoice discounts
    tax_total: int
    total: int


def gross_of(line: LineInput) -> int:
    return max(0, half_up(line.quantity * line.unit_price))


def share(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` split in proportion to ``weights`` (all >= 0), by largest remainder:
    the parts add up to ``min(amount, sum(weights))`` and none exceeds its weight."""
    whole = sum(weights)
    amount = max(0, min(amount, whole))
    if whole == 0:
        return [0] * len(weights)
    parts = [amount * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % whole), i))
    for i in remainders[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def compute(lines: Sequence[LineInput], invoice_discount: Discount = NO_DISCOUNT) -> InvoiceFigures:
    """Every line's figures and the invoice's sums (see the module's rounding rule)."""
    grosses = [gross_of(line) for line in lines]
    line_discounts = [line.discount.of(g) for line, g in zip(lines, grosses, strict=True)]
    after_line = [g - d for g, d in zip(grosses, line_discounts, strict=True)]
    if invoice_discount.percent is not None:
        shares = [invoice_discount.of(n) for n in after_line]
    elif invoice_discount.amount is not None:
        shares = share(invoice_discount.amount, after_line)
    else:
        shares = [0] * len(lines)
    figures = []
    for line, gross, line_discount, base, part in zip(
        lines, grosses, line_discounts, after_line, shares, strict=True
    ):
        net = base - part
        taxes = tuple(max(0, percent_of(net, rate)) for rate in line.tax_rates)
        figures.append(
            LineFigures(
                gross=gross,
                line_discount=line_discount,
                invoice_discount=part,
                net=net,
                taxes=taxes,
                tax=sum(taxes),
                total=net + sum(taxes),
            )
        )
    return InvoiceFigures(
        lines=tuple(figures),
        subtotal=sum(f.gross for f in figures),
        discount_total=sum(f.line_discount + f.invoice_discount for f in figures),
        tax_total=sum(f.tax for f in figures),
        total=sum(f.total for f in figures),
    )


def tax_part(amount: int, *, line_total: int, line_tax: int) -> int:
    """The tax inside ``amount`` credited of a line whose total holds ``line_tax``."""
    if line_total <= 0:
        return 0
    return half_up(Decimal(amount) * line_tax / line_total)
