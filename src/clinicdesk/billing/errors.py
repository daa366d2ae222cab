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


class ClaimNotFound(NotFound):
    title = "Claim not found"
    code = "claim-not-found"


class ClaimStepRefused(Conflict):
    """A step the claim's status does not allow (submitting a paid claim ...)."""

    title = "This step is not possible for this claim"
    code = "claim-step-refused"


class ClaimRefused(Conflict):
    """A claim that cannot be made: a draft invoice, no valid policy, nothing left to
    claim, or a second open claim of one invoice and policy."""

    title = "This claim is not possible"
    code = "claim-refused"


class RemittanceRefused(Conflict):
    """More paid (or adjusted) than is left of what was claimed or approved."""

    title = "This remittance is not possible"
    code = "remittance-refused"


class BalanceFilterRefused(ClinicError):
    """A filter of the aging report or a statement typed on a page that is not a value
    (a date, an amount, a location)."""

    status_code = 400
    title = "This filter is not right"
    code = "balance-filter-refused"


# --- card gateway -------------------------------------------------------------------------


class CardPaymentRefused(Conflict):
    """Card payments through a gateway are off, or the invoice owes nothing (a draft,
    paid already)."""

    title = "A card payment cannot be started"
    code = "card-payment-refused"


class CardGatewayFailed(ClinicError):
    """The provider did not answer or refused; nothing was recorded, try again."""

    status_code = 502
    title = "The card gateway did not answer"
    code = "card-gateway-failed"


class WebhookRefused(ClinicError):
    """A webhook without a valid signature (or with no gateway set up). It says nothing
    more: the caller is either the provider, who knows, or someone probing."""

    status_code = 400
    title = "Bad request"
    code = "webhook-refused"


class GatewayEventRefused(ClinicError):
    """A signed event that names no invoice of the organization it names, or another
    patient or currency than the invoice's. Answered with an error so that the provider
    keeps it visible (and retries) instead of it being dropped without a trace."""

    status_code = 422
    title = "This event does not match an invoice"
    code = "gateway-event-refused"


# --- day close ----------------------------------------------------------------------------


class DayCloseRefused(Conflict):
    """A day that cannot be closed (yet): a business day still to come."""

    title = "This business day cannot be closed"
    code = "day-close-refused"


class ClaimFilterRefused(ClinicError):
    """A filter of the claims list that no form offers (a status or payer not on its
    lists)."""

    status_code = 400
    title = "This filter is not right"
    code = "claim-filter-refused"


class DayNotClosed(Conflict):
    """A reopen of a day that has no closing in force (never closed, or reopened already)."""

    title = "This business day is not closed"
    code = "day-not-closed"
