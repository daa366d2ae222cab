"""What the chart's change history shows of an audit entry's changes: the fields a person
recognizes, named in words, with their values in the vocabulary's words. The audit trail
keeps every column (bookkeeping such as ``order_key``, ``busy_until``, ``holds_slot`` or a
status link's hash among them); the chart shows none of those, and no ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Bookkeeping columns: meaningful to the code, noise (or secrets) to a reader.
INTERNAL = frozenset(
    {
        "busy_until",
        "holds_slot",
        "order_key",
        "status_link_hash",
        "status_link_expires_at",
        "token_number",
        "previous_status",
        "status_changed_at",
        "version",
        "created_at",
        "updated_at",
        "merged_into_id",
        "password_hash",
    }
)

PHONE_FIELDS = frozenset({"phone", "phone_alt", "emergency_contact_phone"})

# Field names in words (any resource); a field not named here is written out plainly.
FIELD_LABELS: dict[str, str] = {
    "starts_at": "Start",
    "ends_at": "End",
    "status": "Status",
    "reason": "Reason",
    "cancel_reason": "Cancellation reason",
    "cancelled_at": "Cancelled at",
    "overbooked": "Overbooked",
    "booked_via": "Booked through",
    "arrived_at": "Arrived at",
    "called_at": "Called at",
    "started_at": "Consultation started",
    "service_date": "Day of the visit",
    "token": "Queue number",
    "priority": "Priority",
    "priority_reason": "Priority reason",
    "substance": "Substance",
    "reaction": "Reaction",
    "category": "Category",
    "severity": "Severity",
    "is_intolerance": "Intolerance",
    "description": "Description",
    "icd10_code": "ICD-10 code",
    "onset_date": "Onset",
    "resolved_date": "Resolved",
    "name": "Medication",
    "dose": "Dose",
    "frequency": "How often",
    "route": "Route",
    "start_date": "Started",
    "stop_date": "Stopped",
    "kind": "Kind",
    "relation": "Relation",
    "occurred_on": "When",
    "notes": "Notes",
    "mrn": "MRN",
    "restricted": "Restricted record",
    "title": "Title",
    "shared_with_patient": "Shared with the patient",
}

# Which vocabulary (``core.labels``) a field's values belong to, per kind of record.
VALUE_VOCABULARIES: dict[tuple[str | None, str], str] = {
    ("appointment", "status"): "appointment_status",
    ("visit", "status"): "visit_status",
    ("visit", "priority"): "visit_priority",
    ("appointment", "booked_via"): "booked_via",
    ("allergy", "status"): "clinical_status",
    ("problem", "status"): "clinical_status",
    ("medication", "status"): "medication_status",
    ("allergy", "severity"): "allergy_severity",
    ("allergy", "category"): "allergy_category",
    ("history", "kind"): "history_kind",
    ("patient", "sex_at_birth"): "sex_at_birth",
    ("document", "category"): "document_category",
}


@dataclass(frozen=True, slots=True)
class ShownChange:
    field: str
    label: str
    before: Any
    after: Any
    vocabulary: str | None  # the values are words of this vocabulary (None: plain values)

    @property
    def is_phone(self) -> bool:
        """Stored as +E.164; shown as the clinic's country writes it."""
        return self.field in PHONE_FIELDS


def is_shown(field: str) -> bool:
    return not (field in INTERNAL or field == "id" or field.endswith(("_id", "_hash")))


def shown_changes(resource_type: str | None, changes: dict[str, Any] | None) -> list[ShownChange]:
    """The readable part of ``changes`` (``{field: {"before": .., "after": ..}}``), in the
    recorded order."""
    shown: list[ShownChange] = []
    for field, change in (changes or {}).items():
        if not isinstance(change, dict) or not is_shown(field):
            continue
        label = FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()
        shown.append(
            ShownChange(
                field=field,
                label=label,
                before=change.get("before"),
                after=change.get("after"),
                vocabulary=VALUE_VOCABULARIES.get((resource_type, field)),
            )
        )
    return shown
