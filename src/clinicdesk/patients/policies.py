"""Who may see and change what of a patient's record: the per-record rules that the
patient use cases, the API and the pages all apply.

* A portal user reaches only their own record; any other record does not exist for them.
* Staff without clinical access (the front desk) see demographics and the documents they
  handle at registration, never the clinical record.
"""

from __future__ import annotations

import uuid

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.permissions import Permission
from clinicdesk.patients.errors import PatientNotFound
from clinicdesk.patients.vocabulary import DocumentCategory

# The front desk handles these: the photo and the cards scanned at registration.
# Everything else is clinical and needs clinical access.
DEMOGRAPHIC_CATEGORIES = frozenset(
    {DocumentCategory.PHOTO, DocumentCategory.ID_CARD, DocumentCategory.INSURANCE_CARD}
)


def check_patient_access(actor: Actor, patient_id: uuid.UUID) -> None:
    """A portal user reaches only their own record: anything else does not exist for them."""
    if actor.kind == ActorKind.PATIENT and actor.patient_id != patient_id:
        raise PatientNotFound("No patient with this id.")


def sees_clinical(actor: Actor) -> bool:
    return actor.can(Permission.CLINICAL_READ)


def writes_clinical(actor: Actor) -> bool:
    return actor.can(Permission.CLINICAL_WRITE)


def _categories(clinical: bool) -> frozenset[str] | None:
    return None if clinical else frozenset(c.value for c in DEMOGRAPHIC_CATEGORIES)


def readable_categories(actor: Actor) -> frozenset[str] | None:
    """The document categories ``actor`` may see; None means all of them."""
    return _categories(sees_clinical(actor))


def writable_categories(actor: Actor) -> frozenset[str] | None:
    """The document categories ``actor`` may upload, edit or delete; None means all."""
    return _categories(writes_clinical(actor))
