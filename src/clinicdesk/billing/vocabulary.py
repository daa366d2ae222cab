"""Words of the billing domain."""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    # Whether an issued invoice is paid is not a status (it moves both ways, with
    # payments, voids, refunds and credit notes) but derived from its figures:
    # ``PaymentState`` / ``payment_state``.


class LineSource(StrEnum):
    MANUAL = "manual"
    VISIT_TYPE = "visit_type"  # the appointment type's default fee
    ORDER = "order"  # a clinical order whose catalogue test has a fee item


INVOICE_COUNTER = "invoice"
CREDIT_NOTE_COUNTER = "credit_note"


class PaymentState(StrEnum):
    """How much of an issued invoice is paid, derived from ``amount_due`` and
    ``amount_paid`` (never stored, so it cannot drift from them)."""

    UNPAID = "unpaid"
    PART_PAID = "part_paid"
    PAID = "paid"


def payment_state(*, status: str, amount_paid: int, amount_due: int) -> PaymentState | None:
    """None for a draft. An issued invoice with nothing left to pay is paid (also one
    credited in full)."""
    if status != InvoiceStatus.ISSUED:
        return None
    if amount_due <= 0:
        return PaymentState.PAID
    return PaymentState.PART_PAID if amount_paid > 0 else PaymentState.UNPAID


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    INSURANCE = "insurance"
    OTHER = "other"


class PaymentStatus(StrEnum):
    RECORDED = "recorded"
    VOIDED = "voided"  # taken in error; kept, counts for nothing


class AllocationKind(StrEnum):
    PAYMENT = "payment"  # applied when the payment was recorded
    CREDIT = "credit"  # the patient's credit applied later to an invoice
    VOIDED = "voided"  # released: the payment was voided
    REFUNDED = "refunded"  # released: the money went back to the patient
    CREDITED = "credited"  # released: a credit note left the invoice overpaid


class ClaimStatus(StrEnum):
    """An insurance claim's life (``service/claims.py`` holds the allowed steps)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
