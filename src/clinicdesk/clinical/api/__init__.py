"""JSON API of the clinical domain: one router per part, gathered in ``routers``."""

from clinicdesk.clinical.api import (
    diagnoses,
    encounters,
    notes,
    orders,
    prescription_sheets,
    prescriptions,
    recalls,
    vitals,
)

routers = [
    encounters.router,
    vitals.router,
    notes.router,
    diagnoses.router,
    prescriptions.router,
    orders.router,
    prescription_sheets.router,
    recalls.router,
]

__all__ = ["routers"]
