"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import diagnoses, encounters

routers = [encounters.router, diagnoses.router]

__all__ = ["routers"]
