"""What other domains may use of billing: an invoice (read type) and its lines, and the
money rules (minor units, rounding) that payments, insurance and reports build on.

Payments (next) reduce an issued invoice's ``amount_due`` by adding to ``amount_paid``;
they lock the invoice row as credit notes do (``service.common.find_invoice``)."""

from clinicdesk.billing.kernel.money import half_up, minor_units, to_major, to_minor
from clinicdesk.billing.models import Invoice, InvoiceLine
from clinicdesk.billing.service.common import InvoiceWithLines, find_invoice
from clinicdesk.billing.service.desk import ToCheckOut, to_check_out

__all__ = [
    "Invoice",
    "InvoiceLine",
    "InvoiceWithLines",
    "ToCheckOut",
    "find_invoice",
    "half_up",
    "minor_units",
    "to_check_out",
    "to_major",
    "to_minor",
]
