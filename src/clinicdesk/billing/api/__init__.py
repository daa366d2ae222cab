"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import day_close as day_close_api
from clinicdesk.billing.api import documents, fee_schedule, invoices
from clinicdesk.billing.api import payments as payments_api

routers = [fee_schedule.router, invoices.router, documents.router, payments_api.router]
routers.append(day_close_api.router)

__all__ = ["routers"]
