"""Shared pieces of the patient pages: the demographic fields and their labels, and display
helpers."""

from __future__ import annotations

from datetime import date

from fastapi import Request

from clinicdesk.identity.auth import Me
from clinicdesk.patients.models import Patient
from clinicdesk.patients.phones import format_phone
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service.chart import CHART_LISTS
from clinicdesk.patients.service.records import PHONE_FIELDS, mask_identifier
from clinicdesk.patients.vocabulary import (
    AllergyCategory,
    AllergySeverity,
    ClinicalStatus,
    MedicationStatus,
    PolicyPriority,
    SubscriberRelationship,
)

# The fields of the registration and edit forms, in form order, with their labels. The
# schema (PatientCreate / PatientUpdate) is the list of fields; this adds order and words
# (tests/patients/test_views.py checks that every schema field has its label here).
LABELS = {
    "given_name": "Given name",
    "middle_name": "Middle name",
    "family_name": "Family name",
    "preferred_name": "Preferred name",
    "sex_at_birth": "Sex at birth",
    "gender_identity": "Gender identity",
    "birth_date": "Date of birth",
    "phone": "Phone",
    "phone_alt": "Other phone",
    "email": "E-mail",
    "address_line1": "Address",
    "address_line2": "Address line 2",
    "city": "City",
    "region": "Region / state",
    "postal_code": "Postal code",
    "country": "Country (2 letters)",
    "preferred_language": "Preferred language",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_relationship": "Relationship",
    "emergency_contact_phone": "Emergency contact phone",
    "front_desk_notes": "Front-desk notes",
    "national_id": "National ID",
    "no_known_allergies": "No known allergies",
    "deceased_on": "Date of death",
}
DEMOGRAPHIC_FIELDS = tuple(name for name in LABELS if name in PatientCreate.model_fields)
IDENTIFIER_FIELDS = ("national_id",)

# The chart's lists and the choices their forms offer, for the templates (a template
# global: the chart page and its htmx fragments share them).
CHART_VOCABULARY = {
    "titles": {kind: chart_list.title for kind, chart_list in CHART_LISTS.items()},
    "allergy_categories": [c.value for c in AllergyCategory],
    "allergy_severities": [s.value for s in AllergySeverity],
    "clinical_statuses": [s.value for s in ClinicalStatus],
    "medication_statuses": [s.value for s in MedicationStatus],
    "active": ClinicalStatus.ACTIVE.value,
    "policy_priorities": [p.value for p in PolicyPriority],
    "subscriber_relationships": [r.value for r in SubscriberRelationship],
}


def me_of(request: Request) -> Me:
    principal = request.state.principal
    me: Me = principal.me
    return me


def phone_text(value: str | None, country: str) -> str:
    if not value:
        return ""
    try:
        return format_phone(value, region=country)
    except ValueError:
        return value


def form_values(patient: Patient, country: str) -> dict[str, str]:
    """The record as the edit form shows it; identifiers masked (left empty = unchanged)."""
    values: dict[str, str] = {}
    for field in DEMOGRAPHIC_FIELDS:
        value = getattr(patient, field)
        if field in PHONE_FIELDS:
            values[field] = phone_text(value, country)
        elif field in IDENTIFIER_FIELDS:
            values[field] = ""
        elif isinstance(value, date):
            values[field] = value.isoformat()
        else:
            values[field] = "" if value is None else str(value)
    values["no_known_allergies"] = "1" if patient.no_known_allergies else ""
    values["deceased_on"] = patient.deceased_on.isoformat() if patient.deceased_on else ""
    for field in IDENTIFIER_FIELDS:
        values[f"{field}_masked"] = mask_identifier(getattr(patient, field)) or ""
    return values


def age(birth: date, today: date | None = None) -> int:
    today = today or date.today()  # noqa: DTZ011 - a calendar age; the server's date is close enough
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
