"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import documents, fee_schedule, invoices

routers = [fee_schedule.router, invoices.router, documents.router]

__all__ = ["routers"]
