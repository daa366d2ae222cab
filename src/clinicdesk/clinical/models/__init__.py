"""Tables of the clinical domain, one module per part; importing this package registers
them all (``clinicdesk.models`` does, for Alembic and the drift test)."""

from clinicdesk.clinical.models.encounters import Encounter
from clinicdesk.clinical.models.orders import Order, Result, TestCatalogueItem

__all__ = ["Encounter", "Order", "Result", "TestCatalogueItem"]
