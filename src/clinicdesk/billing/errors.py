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


class BalanceFilterRefused(ClinicError):
    """A filter of the aging report or a statement typed on a page that is not a value
    (a date, an amount, a location)."""

    status_code = 400
    title = "This filter is not right"
    code = "balance-filter-refused"
