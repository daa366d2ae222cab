"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import encounters, vitals

routers = [encounters.router, vitals.router]

__all__ = ["routers"]
