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
