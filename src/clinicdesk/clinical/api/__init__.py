"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import encounters, orders

routers = [encounters.router, orders.router]

__all__ = ["routers"]
