"""What the billing pages share: amounts as people type and read them (major units:
"12.50"), tax rates typed as text ("VAT 20"), and the one sentence a refused change
shows.

Amounts are kept in minor units everywhere else; these turn them into words and back,
with the currency's own number of decimals (``kernel.money``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from clinicdesk.billing.errors import BadAmount
from clinicdesk.billing.kernel.money import to_major, to_minor
from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.permissions import Permission

# Who sees the credit-note form: the same permission as the API's credit-note route
# (billing and the admin; the front desk takes payments but gives no money back).
CREDIT_PERMISSION = Permission.BILLING_REFUND

STALE = (
    "Someone else changed this invoice since you opened it. It is shown below as it is "
    "now: check it, then do your change again."
)
RATE = re.compile(r"^\s*(?P<name>.*?)\s*(?P<rate>\d+(?:[.,]\d+)?)\s*%?\s*$")


def money(amount: int | None, currency: str) -> str:
    """1234550 EUR -> "12,345.50" (the currency's decimals, thousands grouped)."""
    if amount is None:
        return ""
    return f"{to_major(amount, currency):,}"


def amount_in(text: str, currency: str, field: str) -> int | None:
    """What someone typed ("12.50", "1,250") in minor units; None when empty."""
    cleaned = text.replace(",", "").replace(" ", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
        if not value.is_finite() or value < 0:
            raise InvalidOperation
        return to_minor(value, currency)
    except (InvalidOperation, ValueError):
        raise BadAmount(
            field, f"Type an amount in {currency} such as 12.50 (not {text.strip()!r})."
        ) from None


def rates_in(text: str, field: str = "tax_rates") -> list[dict[str, str]]:
    """ "VAT 20; Local 2.5%" -> [{"name": "VAT", "rate": "20"}, ...]; "" -> []."""
    found: list[dict[str, str]] = []
    for part in re.split(r"[;\n]", text):
        if not part.strip():
            continue
        matched = RATE.match(part)
        if matched is None or not matched["name"]:
            raise InvalidField(
                field, f"Write each tax as a name and a percentage, such as VAT 20 (not {part!r})."
            )
        found.append({"name": matched["name"], "rate": matched["rate"].replace(",", ".")})
    return found


def rates_text(rates: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r['name']} {r['rate']}" for r in rates)


def discount_fields(
    form: Mapping[str, str], currency: str, prefix: str = "discount"
) -> dict[str, Any]:
    """The discount part of a form: a kind ("percent" or "amount"), a value and a reason,
    as the schema's ``discount_percent`` / ``discount_amount`` / ``discount_reason``."""
    kind = form.get(f"{prefix}_kind", "percent")
    value = form.get(f"{prefix}_value", "").strip()
    reason = form.get(f"{prefix}_reason", "").strip() or None
    if not value:
        return {"discount_reason": reason}
    if kind == "amount":
        return {
            "discount_amount": amount_in(value, currency, "discount_amount"),
            "discount_reason": reason,
        }
    return {"discount_percent": value.replace(",", "."), "discount_reason": reason}


def refusal(error: ClinicError) -> str:
    """The sentence a refused change shows; a stale version says what to do."""
    if error.status_code == 412:
        return STALE
    return error.detail
