"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import documents, fee_schedule, invoices
from clinicdesk.billing.api import payments as payments_api

routers = [fee_schedule.router, invoices.router, documents.router, payments_api.router]

# Insurance claims (issue 16).
from clinicdesk.billing.api import claims  # noqa: E402

routers += [claims.router]

__all__ = ["routers"]
