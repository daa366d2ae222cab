"""Tables of the clinical domain, one module per part; importing this package registers
them all (``clinicdesk.models`` does, for Alembic and the drift test)."""

from clinicdesk.clinical.models.diagnoses import Diagnosis
from clinicdesk.clinical.models.encounters import Encounter

__all__ = ["Diagnosis", "Encounter"]
