"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import balances, card_gateway, claims, documents, fee_schedule, invoices
from clinicdesk.billing.api import day_close as day_close_api
from clinicdesk.billing.api import payments as payments_api
from clinicdesk.billing.api import receipts as receipts_api

routers = [
    fee_schedule.router,
    invoices.router,
    documents.router,
    payments_api.router,
    claims.router,
    balances.router,
    card_gateway.router,
    day_close_api.router,
    receipts_api.router,
]
# The card gateway's webhook: signed by the provider, no sign-in.
public = card_gateway.public

__all__ = ["public", "routers"]
