"""What other domains may use of clinical: the signal that a consultation finished
(billing drafts the invoice from it), the encounter record it hands over with its orders
to bill and the catalogue test a fee is linked to, and the
signed-in provider's open consultations and results to review (the doctor's home), and
the recalls (planned follow-ups) notifications asks patients to book."""

from clinicdesk.clinical.models import (
    Encounter,
    Order,
    Recall,
    TestCatalogueItem,
)
from clinicdesk.clinical.service.catalogue import get_catalogue_item
from clinicdesk.clinical.service.encounters import (
    OpenConsultation,
    find_encounter,
    my_open_consultations,
)
from clinicdesk.clinical.service.orders import orders_to_bill
from clinicdesk.clinical.service.recalls import find_recall, recalls_due
from clinicdesk.clinical.service.results import InboxEntry, results_to_review
from clinicdesk.clinical.signals import EncounterFinished, encounter_finished
from clinicdesk.clinical.vocabulary import RecallStatus

__all__ = [
    "Encounter",
    "EncounterFinished",
    "InboxEntry",
    "OpenConsultation",
    "Order",
    "Recall",
    "RecallStatus",
    "TestCatalogueItem",
    "encounter_finished",
    "find_encounter",
    "find_recall",
    "get_catalogue_item",
    "my_open_consultations",
    "orders_to_bill",
    "recalls_due",
    "results_to_review",
]

# Results entered onto an order (notifications tells the doctor who ordered it).
from clinicdesk.clinical.signals import ResultsEntered, results_entered

__all__ += ["ResultsEntered", "results_entered"]
