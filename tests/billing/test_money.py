"""The money kernel's rounding rule (per line, half-up) and its invariants, by property:
line totals, several taxes per line, line and invoice discounts (percentage or amount),
the invoice total is the sum of its lines, and nothing is ever negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.billing.kernel.money import (
    Discount,
    LineInput,
    UnknownCurrency,
    compute,
    half_up,
    minor_units,
    share,
    to_major,
    to_minor,
)
from clinicdesk.billing.kernel.numbering import format_problem, render

prices = st.integers(min_value=0, max_value=10**9)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)
discounts = st.one_of(
    st.just(Discount()),
    st.builds(Discount, percent=rates),
    st.builds(Discount, amount=st.integers(min_value=0, max_value=10**10)),
)
lines = st.builds(
    LineInput,
    quantity=quantities,
    unit_price=prices,
    tax_rates=st.lists(rates, max_size=3).map(tuple),
    discount=discounts,
)


def test_minor_units_come_from_iso_4217() -> None:
    assert (minor_units("EUR"), minor_units("jpy"), minor_units("KWD")) == (2, 0, 3)
    with pytest.raises(UnknownCurrency):
        minor_units("XAU")  # gold: no minor unit
    with pytest.raises(UnknownCurrency):
        minor_units("ABC")
    assert to_minor(Decimal("12.50"), "EUR") == 1250
    assert to_minor(Decimal(1250), "JPY") == 1250
    assert to_major(1250, "EUR") == Decimal("12.50")
    with pytest.raises(ValueError, match="2 decimal places"):
        to_minor(Decimal("0.005"), "EUR")


def test_halves_round_up_per_line() -> None:
    assert half_up(Decimal("2.5")) == 3
    assert half_up(Decimal("2.4999")) == 2
    assert half_up(Decimal("0.5")) == 1  # banker's rounding would give 0
    line = LineInput(quantity=Decimal("1.5"), unit_price=67, tax_rates=(Decimal(10),))
    figures = compute([line, line])
    # 1.5 x 67 = 100.5 -> 101; tax 10.1 -> 10; each line 111, the invoice 222 (the sum
    # of rounded lines, not a rounding of the unrounded sum 221.1).
    assert [f.total for f in figures.lines] == [111, 111]
    assert figures.total == 222


def test_several_taxes_are_each_rounded_on_the_line() -> None:
    figures = compute(
        [LineInput(quantity=Decimal(1), unit_price=1005, tax_rates=(Decimal(5), Decimal("9.975")))]
    )
    (line,) = figures.lines
    assert line.taxes == (50, 100)  # 50.25 -> 50, 100.24875 -> 100
    assert line.total == 1005 + 150


@given(st.lists(lines, max_size=8), discounts)
def test_invoice_total_is_the_sum_of_its_lines_and_never_negative(
    items: list[LineInput], invoice_discount: Discount
) -> None:
    figures = compute(items, invoice_discount)
    assert figures.total == sum(f.total for f in figures.lines)
    assert figures.tax_total == sum(f.tax for f in figures.lines)
    assert figures.subtotal - figures.discount_total + figures.tax_total == figures.total
    for item, f in zip(items, figures.lines, strict=True):
        assert min(f.gross, f.line_discount, f.invoice_discount, f.net, f.tax, f.total) >= 0
        assert f.gross == half_up(item.quantity * item.unit_price)
        assert f.net == f.gross - f.line_discount - f.invoice_discount
        assert f.taxes == tuple(half_up(f.net * r / 100) for r in item.tax_rates)
        assert f.total == f.net + sum(f.taxes)


@given(lines)
def test_a_line_discount_never_exceeds_the_line(item: LineInput) -> None:
    (f,) = compute([item]).lines
    assert f.line_discount <= f.gross
    if item.discount.percent is not None:
        assert f.line_discount == half_up(f.gross * item.discount.percent / 100)
    elif item.discount.amount is not None:
        assert f.line_discount == min(item.discount.amount, f.gross)


@given(st.lists(lines, min_size=1, max_size=8), st.integers(min_value=0, max_value=10**10))
def test_an_invoice_discount_amount_is_shared_exactly(items: list[LineInput], amount: int) -> None:
    figures = compute(items, Discount(amount=amount))
    room = sum(f.gross - f.line_discount for f in figures.lines)
    assert sum(f.invoice_discount for f in figures.lines) == min(amount, room)


@given(st.integers(min_value=0, max_value=10**12), st.lists(st.integers(0, 10**9), max_size=10))
def test_share_adds_up_and_stays_within_each_weight(amount: int, weights: list[int]) -> None:
    parts = share(amount, weights)
    assert sum(parts) == min(amount, sum(weights))
    assert all(0 <= p <= w for p, w in zip(parts, weights, strict=True))


def test_number_formats() -> None:
    assert render("INV-{year}-{seq:06d}", year=2026, seq=123) == "INV-2026-000123"
    assert format_problem("INV-{year}-{seq:06d}") is None
    assert format_problem("{year}/{seq}") is None
    assert "{year} and {seq}" in (format_problem("INV-{seq}") or "")
    assert "not {month}" in (format_problem("{year}-{month}-{seq}") or "")
    assert "Braces" in (format_problem("INV-{year-{seq}") or "")
    assert format_problem("{year}-{seq:x<80}") is not None  # too long
    assert format_problem("{year}-{seq:s}") is not None  # not an integer format
