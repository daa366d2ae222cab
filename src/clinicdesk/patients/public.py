"""What other domains may use of patients: finding a patient (by id, for a change, by a
search), the record type they hand back, and what a merge asks of them.

Other domains hold and show ``Patient`` (a name on a board, a line on the day list); they
never query the patients' tables themselves (an import-linter contract protects
``patients.models`` and ``patients.service``; tests/test_architecture.py checks queries).
"""

from clinicdesk.patients.models import Patient
from clinicdesk.patients.policies import check_patient_access
from clinicdesk.patients.service.common import get_patient, get_writable_patient, patients_by_id
from clinicdesk.patients.service.merge import move_records
from clinicdesk.patients.service.search import SearchResult, search_patients
from clinicdesk.patients.signals import PatientMerged, patient_merged

__all__ = [
    "Patient",
    "PatientMerged",
    "SearchResult",
    "check_patient_access",
    "get_patient",
    "get_writable_patient",
    "move_records",
    "patient_merged",
    "patients_by_id",
    "search_patients",
]
