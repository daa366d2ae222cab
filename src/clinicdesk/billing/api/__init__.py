"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import balances, fee_schedule, invoices

routers = [fee_schedule.router, invoices.router, balances.router]

__all__ = ["routers"]
