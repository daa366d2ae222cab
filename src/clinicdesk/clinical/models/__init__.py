"""Tables of the clinical domain, one module per part; importing this package registers
them all (``clinicdesk.models`` does, for Alembic and the drift test)."""

from clinicdesk.clinical.models.drugs import Drug, DrugName, DrugTreeNumber
from clinicdesk.clinical.models.encounters import Encounter
from clinicdesk.clinical.models.prescriptions import Prescription

__all__ = ["Drug", "DrugName", "DrugTreeNumber", "Encounter", "Prescription"]
