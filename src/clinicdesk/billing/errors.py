"""Errors of the billing domain, each with the status it answers with."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError, Conflict, InvalidField, NotFound


class FeeItemNotFound(NotFound):
    title = "Fee item not found"
    code = "fee-item-not-found"


class FeeCodeTaken(Conflict):
    title = "This code is already in the fee schedule"
    code = "fee-code-taken"


class FeeStepRefused(Conflict):
    title = "This change to the fee schedule is not possible"
    code = "fee-step-refused"


class InvoiceNotFound(NotFound):
    title = "Invoice not found"
    code = "invoice-not-found"


class InvoiceLineNotFound(NotFound):
    title = "Invoice line not found"
    code = "invoice-line-not-found"


class InvoiceIssued(Conflict):
    """An issued invoice never changes; a credit note corrects it."""

    title = "This invoice is issued"
    code = "invoice-issued"


class InvoiceStepRefused(Conflict):
    title = "This step is not possible for this invoice"
    code = "invoice-step-refused"


class CreditRefused(Conflict):
    """More credit than was invoiced, or credit of a draft."""

    title = "This credit note is not possible"
    code = "credit-refused"


class CurrencyRefused(ClinicError):
    status_code = 422
    title = "The organization's currency cannot be invoiced"
    code = "currency-refused"


class BadAmount(InvalidField):
    """An amount with more decimal places than the currency has."""


class CreditNoteNotFound(NotFound):
    title = "Credit note not found"
    code = "credit-note-not-found"


class DocumentNotSent(Conflict):
    """An e-mail of a draft (no number yet), or to a patient without an address."""

    title = "This document cannot be e-mailed"
    code = "document-not-sent"


# --- payments -----------------------------------------------------------------------------


class PaymentNotFound(NotFound):
    title = "Payment not found"
    code = "payment-not-found"


class PaymentInvalid(InvalidField):
    """A payment that cannot be taken as asked: another currency, another patient's
    invoice, allocations adding up to more than the payment."""


class AllocationRefused(Conflict):
    """More than an invoice's ``amount_due``, a draft invoice, no credit to apply."""

    title = "This money cannot go to this invoice"
    code = "allocation-refused"


class RefundRefused(Conflict):
    title = "This refund is not possible"
    code = "refund-refused"


class VoidRefused(Conflict):
    title = "This payment cannot be voided"
    code = "void-refused"


class DayClosed(Conflict):
    """Money dated into a business day that day close has closed."""

    title = "This business day is closed"
    code = "day-closed"


# --- day close ----------------------------------------------------------------------------


class DayCloseRefused(Conflict):
    """A day that cannot be closed (yet): a business day still to come."""

    title = "This business day cannot be closed"
    code = "day-close-refused"
