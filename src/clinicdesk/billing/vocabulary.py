"""Words of the billing domain."""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    # Payments (built next) read an issued invoice's ``amount_due``; "paid" and
    # "part-paid" are what they will add, not statuses this domain sets today.


class LineSource(StrEnum):
    MANUAL = "manual"
    VISIT_TYPE = "visit_type"  # the appointment type's default fee
    ORDER = "order"  # a clinical order whose catalogue test has a fee item


INVOICE_COUNTER = "invoice"
CREDIT_NOTE_COUNTER = "credit_note"


class ClaimStatus(StrEnum):
    """An insurance claim's life (``service/claims.py`` holds the allowed steps)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
