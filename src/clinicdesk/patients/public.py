"""What other domains may use of patients: finding a patient (by id, for a change, by a
search), the record type they hand back, what a merge asks of them, and the chart lists
the consultation reads and writes (allergies and medications for the safety checks, the
medication list a prescription updates, the problem list a diagnosis feeds).

Other domains hold and show ``Patient`` (a name on a board, a line on the day list); they
never query the patients' tables themselves (an import-linter contract protects
``patients.models`` and ``patients.service``; tests/test_architecture.py checks queries).
"""

from clinicdesk.patients.icd10 import Icd10Code
from clinicdesk.patients.models import Allergy, Medication, Patient, Problem
from clinicdesk.patients.policies import check_patient_access
from clinicdesk.patients.schemas import MedicationWrite, ProblemWrite
from clinicdesk.patients.service.chart import (
    active_allergies,
    add_entry,
    banner_allergies,
    list_entries,
    update_entry,
)
from clinicdesk.patients.service.common import get_patient, get_writable_patient, patients_by_id
from clinicdesk.patients.service.icd10 import lookup as lookup_icd10
from clinicdesk.patients.service.icd10 import search as search_icd10
from clinicdesk.patients.service.merge import move_records
from clinicdesk.patients.service.search import SearchResult, search_patients
from clinicdesk.patients.signals import PatientMerged, patient_merged

__all__ = [
    "Allergy",
    "Icd10Code",
    "Medication",
    "MedicationWrite",
    "Patient",
    "PatientMerged",
    "Problem",
    "ProblemWrite",
    "SearchResult",
    "active_allergies",
    "add_entry",
    "banner_allergies",
    "check_patient_access",
    "get_patient",
    "get_writable_patient",
    "list_entries",
    "lookup_icd10",
    "move_records",
    "patient_merged",
    "patients_by_id",
    "search_icd10",
    "search_patients",
    "update_entry",
]

# Insurance as billing's claims read it (``service/coverage.py``).
from clinicdesk.patients.service.coverage import (
    Coverage,
    coverage_of,
    coverages_by_id,
    coverages_of_patient,
    payer_names,
    primary_coverage,
)

__all__ += ["Coverage", "coverage_of", "coverages_by_id", "primary_coverage"]
__all__ += ["coverages_of_patient", "payer_names"]

# Whether a row's patient is closed to a reader, as a SQL condition (the staff's alerts
# leave such rows out of a list and its count in the same query).
from clinicdesk.patients.service.restricted import closed_to  # noqa: E402

__all__ += ["closed_to"]

# Name and MRN alone, for exports over thousands of patients (billing's aging CSV).
from clinicdesk.patients.service.labels import PatientLabel, labels_by_id  # noqa: E402

__all__ += ["PatientLabel", "labels_by_id"]
