"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import balances, claims, documents, fee_schedule, invoices
from clinicdesk.billing.api import payments as payments_api

routers = [
    fee_schedule.router,
    invoices.router,
    documents.router,
    payments_api.router,
    claims.router,
    balances.router,
]

__all__ = ["routers"]
