"""The fixed vocabularies of the clinical domain."""

from __future__ import annotations

from enum import StrEnum


class EncounterStatus(StrEnum):
    """FHIR R4 Encounter.status, the subset a clinic uses."""

    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"


OPEN_ENCOUNTER_STATUSES = frozenset({EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS})


class EncounterKind(StrEnum):
    """How the patient was seen. ``fhir_class`` is the HL7 v3 ActCode FHIR's
    Encounter.class carries (a phone call and a video visit are both "virtual")."""

    IN_PERSON = "in-person"
    PHONE = "phone"
    VIDEO = "video"
    HOME = "home"

    @property
    def fhir_class(self) -> str:
        return {"in-person": "AMB", "phone": "VR", "video": "VR", "home": "HH"}[self.value]

    @property
    def label(self) -> str:
        return {
            "in-person": "In person",
            "phone": "Phone",
            "video": "Video (telehealth)",
            "home": "Home visit",
        }[self.value]


class NoteKind(StrEnum):
    SOAP = "soap"
    FREE = "free"


class NoteStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


class NoteAddendumKind(StrEnum):
    """An addendum adds to a signed note; an amendment corrects it (with a reason)."""

    ADDENDUM = "addendum"
    AMENDMENT = "amendment"


class DiagnosisRank(StrEnum):
    """Encounter.diagnosis.rank: the primary diagnosis is the main reason for the
    consultation (one per encounter); the others are secondary."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class DiagnosisStatus(StrEnum):
    """FHIR Condition.verificationStatus, the two a clinic records here: a diagnosis
    stands, or it was entered in error (kept, struck through)."""

    ACTIVE = "active"
    ENTERED_IN_ERROR = "entered-in-error"


class PrescriptionStatus(StrEnum):
    """A prescription's state (FHIR MedicationRequest.status calls "discontinued"
    "stopped"): discontinued carries its reason; entered-in-error never counted."""

    ACTIVE = "active"
    DISCONTINUED = "discontinued"
    ENTERED_IN_ERROR = "entered-in-error"


class RecallStatus(StrEnum):
    """A planned follow-up: open until an appointment is booked for it, or cancelled
    (with the reason)."""

    OPEN = "open"
    BOOKED = "booked"
    CANCELLED = "cancelled"


class RecallUnit(StrEnum):
    """ "Recall in N weeks / months" from the consultation."""

    WEEKS = "weeks"
    MONTHS = "months"
