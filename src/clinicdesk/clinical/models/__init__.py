"""Tables of the clinical domain, one module per part; importing this package registers
them all (``clinicdesk.models`` does, for Alembic and the drift test)."""

from clinicdesk.clinical.models.diagnoses import Diagnosis
from clinicdesk.clinical.models.drugs import Drug, DrugName, DrugTreeNumber
from clinicdesk.clinical.models.encounters import Encounter
from clinicdesk.clinical.models.notes import ClinicalNote, NoteAddendum, NoteTemplate, QuickPhrase
from clinicdesk.clinical.models.orders import Order, Result, TestCatalogueItem
from clinicdesk.clinical.models.prescription_sheets import PrescriptionSheet
from clinicdesk.clinical.models.prescriptions import Prescription
from clinicdesk.clinical.models.recalls import Recall
from clinicdesk.clinical.models.vitals import ClinicalSettings, Observation

__all__ = [
    "ClinicalNote",
    "ClinicalSettings",
    "Diagnosis",
    "Drug",
    "DrugName",
    "DrugTreeNumber",
    "Encounter",
    "NoteAddendum",
    "NoteTemplate",
    "Observation",
    "Order",
    "Prescription",
    "PrescriptionSheet",
    "QuickPhrase",
    "Recall",
    "Result",
    "TestCatalogueItem",
]
