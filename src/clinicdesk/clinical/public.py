"""What other domains may use of clinical: the signal that a consultation finished
(billing drafts the invoice from it), the encounter record it hands over, and the
signed-in provider's open consultations and results to review (the doctor's home)."""

from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.service.encounters import OpenConsultation, my_open_consultations
from clinicdesk.clinical.service.results import InboxEntry, results_to_review
from clinicdesk.clinical.signals import EncounterFinished, encounter_finished

__all__ = [
    "Encounter",
    "EncounterFinished",
    "InboxEntry",
    "OpenConsultation",
    "encounter_finished",
    "my_open_consultations",
    "results_to_review",
]
