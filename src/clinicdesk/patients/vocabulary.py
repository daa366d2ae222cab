"""The fixed vocabularies of the patients domain (FHIR value sets where one exists)."""

from __future__ import annotations

from enum import StrEnum


class SexAtBirth(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class AllergyCategory(StrEnum):
    MEDICATION = "medication"
    FOOD = "food"
    ENVIRONMENT = "environment"
    BIOLOGIC = "biologic"


class AllergySeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class ClinicalStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    RESOLVED = "resolved"


class MedicationStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"
    COMPLETED = "completed"


class HistoryKind(StrEnum):
    MEDICAL = "medical"
    SURGICAL = "surgical"
    FAMILY = "family"
    SOCIAL = "social"


class DocumentCategory(StrEnum):
    PHOTO = "photo"
    LAB_RESULT = "lab_result"
    IMAGING = "imaging"
    REFERRAL = "referral"
    CONSENT = "consent"
    ID_CARD = "id_card"
    INSURANCE_CARD = "insurance_card"
    CORRESPONDENCE = "correspondence"
    OTHER = "other"


class GrantKind(StrEnum):
    """Why someone may open a restricted record."""

    CARE_TEAM = "care_team"
    BREAK_GLASS = "break_glass"


class PolicyPriority(StrEnum):
    """Which insurer pays first; at most one active policy of each per patient at a time."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class SubscriberRelationship(StrEnum):
    """The patient's relationship to the policy's subscriber (FHIR Coverage.relationship)."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


# What pages show for these values (registered with ``core.labels`` when the app is built).
LABELS: dict[str, dict[str, str]] = {
    "sex_at_birth": {
        SexAtBirth.FEMALE: "Female",
        SexAtBirth.MALE: "Male",
        SexAtBirth.INTERSEX: "Intersex",
        SexAtBirth.UNKNOWN: "Unknown",
    },
    "allergy_category": {c: c.value.capitalize() for c in AllergyCategory},
    "allergy_severity": {s: s.value.capitalize() for s in AllergySeverity},
    "clinical_status": {s: s.value.capitalize() for s in ClinicalStatus},
    "medication_status": {s: s.value.capitalize() for s in MedicationStatus},
    "history_kind": {k: k.value.capitalize() for k in HistoryKind},
    "document_category": {
        DocumentCategory.PHOTO: "Photo",
        DocumentCategory.LAB_RESULT: "Lab result",
        DocumentCategory.IMAGING: "Imaging",
        DocumentCategory.REFERRAL: "Referral",
        DocumentCategory.CONSENT: "Consent",
        DocumentCategory.ID_CARD: "ID card",
        DocumentCategory.INSURANCE_CARD: "Insurance card",
        DocumentCategory.CORRESPONDENCE: "Correspondence",
        DocumentCategory.OTHER: "Other",
    },
    "policy_priority": {p: p.value.capitalize() for p in PolicyPriority},
    "subscriber_relationship": {r: r.value.capitalize() for r in SubscriberRelationship},
    "grant_kind": {GrantKind.CARE_TEAM: "Care team", GrantKind.BREAK_GLASS: "Emergency access"},
}
