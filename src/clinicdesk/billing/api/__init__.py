"""JSON API of billing: one router per part, gathered in ``routers``."""

from clinicdesk.billing.api import fee_schedule, invoices

routers = [fee_schedule.router, invoices.router]

# Insurance claims (issue 16).
from clinicdesk.billing.api import claims  # noqa: E402

routers += [claims.router]

__all__ = ["routers"]
