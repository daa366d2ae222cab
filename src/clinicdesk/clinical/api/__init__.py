"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import encounters, prescriptions

routers = [encounters.router, prescriptions.router]

__all__ = ["routers"]
