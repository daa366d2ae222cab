"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import encounters, notes

routers = [encounters.router, notes.router]

__all__ = ["routers"]
