"""Merging a duplicate record into the one that is kept.

Every row that points at the duplicate moves to the kept record in the same
transaction, each domain moving its own: this module moves the chart lists and
documents, identity rebinds portal accounts, and every domain above (appointments,
visits, encounters, invoices ...) moves its rows in its handler of ``patient_merged``
(``patients.signals``), with an audit entry on every moved record. The duplicate stays
as a pointer (``merged_into_id``) so old links resolve.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, repoint, utcnow
from clinicdesk.identity import public as identity
from clinicdesk.patients.errors import MergeRefused
from clinicdesk.patients.models import (
    AccessGrant,
    Document,
    InsurancePolicy,
    Patient,
    PatientNameTerm,
)
from clinicdesk.patients.service import insurance
from clinicdesk.patients.service.chart import CHART_LISTS
from clinicdesk.patients.service.common import get_writable_patient
from clinicdesk.patients.service.terms import index_names
from clinicdesk.patients.signals import PatientMerged, patient_merged

# Demographics the kept record takes from the duplicate when it has none of its own.
FILLED_FROM_DUPLICATE = (
    "middle_name",
    "preferred_name",
    "gender_identity",
    "phone",
    "phone_alt",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "preferred_language",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "national_id",
    "national_id_hash",
    "photo_document_id",
)
# What the person merging may take from the duplicate instead of the kept record: each
# choice moves its fields together (an address is not taken line by line; an identifier
# goes with its lookup hash).
MERGE_CHOICES: dict[str, tuple[str, ...]] = {
    "name": ("given_name", "middle_name", "family_name"),
    "preferred_name": ("preferred_name",),
    "birth_date": ("birth_date",),
    "sex_at_birth": ("sex_at_birth",),
    "gender_identity": ("gender_identity",),
    "phone": ("phone",),
    "phone_alt": ("phone_alt",),
    "email": ("email",),
    "address": ("address_line1", "address_line2", "city", "region", "postal_code", "country"),
    "preferred_language": ("preferred_language",),
    "emergency_contact": (
        "emergency_contact_name",
        "emergency_contact_relationship",
        "emergency_contact_phone",
    ),
    "national_id": ("national_id", "national_id_hash"),
    "front_desk_notes": ("front_desk_notes",),
}
_COMPLETENESS_FIELDS = (
    *(f for fields in MERGE_CHOICES.values() for f in fields if not f.endswith("_hash")),
    "photo_document_id",
)


def completeness(patient: Patient) -> int:
    """How many demographic fields the record has filled in."""
    return sum(1 for field in _COMPLETENESS_FIELDS if getattr(patient, field) not in (None, ""))


def more_complete_first(a: Patient, b: Patient) -> tuple[Patient, Patient]:
    """The record to keep by default, then the other: the more complete one; on a tie
    the one registered first (its MRN is the one people have seen longest)."""
    if (completeness(b), a.created_at) > (completeness(a), b.created_at):
        return b, a
    return a, b


def differing_choices(keep: Patient, duplicate: Patient) -> list[str]:
    """The choices where both records hold something and it differs: the ones to ask
    about (where only the duplicate has a value, the kept record takes it anyway)."""
    return [
        key
        for key, fields in MERGE_CHOICES.items()
        if any(getattr(duplicate, f) not in (None, "") for f in fields)
        and any(getattr(keep, f) not in (None, "") for f in fields)
        and any(getattr(keep, f) != getattr(duplicate, f) for f in fields)
    ]


# This domain's rows that follow the patient, and the audit resource type of each.
_OWN_RECORDS = (
    *((chart_list.model.patient_id, chart_list.noun) for chart_list in CHART_LISTS.values()),
    (Document.patient_id, "document"),
    (AccessGrant.patient_id, "access_grant"),
    (InsurancePolicy.patient_id, "insurance_policy"),
)


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    kept: Patient
    moved: dict[str, int]
    """Rows moved per table (tables where nothing moved are left out)."""
    tables_checked: frozenset[str]
    """Every table whose rows were looked for: this domain's and every handler's."""


async def move_records(
    session: AsyncSession,
    merge: PatientMerged,
    records: Sequence[tuple[InstrumentedAttribute[uuid.UUID], str]],
) -> dict[str, int]:
    """Move the rows whose patient column (each ``records`` entry: the column and the
    audit resource type of its rows) names the duplicate to the kept record, with an
    audit entry per row; answers ``{table: rows moved}``, as ``patient_merged`` handlers
    do. For the domains whose rows simply follow the patient."""
    moved: dict[str, int] = {}
    for column, resource_type in records:
        ids = await repoint(session, column, old=merge.duplicate_id, new=merge.kept_id)
        await audit.record_moved_by_merge(
            session,
            actor=merge.actor,
            resource_type=resource_type,
            resource_ids=ids,
            kept_id=merge.kept_id,
            duplicate_id=merge.duplicate_id,
            reason=merge.reason,
        )
        moved[column.class_.__tablename__] = len(ids)
    return moved


async def merge_patients(
    session: AsyncSession,
    *,
    actor: Actor,
    keep_id: uuid.UUID,
    duplicate_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
    take_from_duplicate: Iterable[str] = (),
) -> MergeOutcome:
    """Merge ``duplicate_id`` into ``keep_id``: every domain's rows move (see the module
    rules), the kept record takes the demographics it lacks and, for each key of
    ``take_from_duplicate`` (``MERGE_CHOICES``), the duplicate's values instead of its own;
    the duplicate becomes a pointer and leaves search. All or nothing: a handler that
    fails rolls it all back. The audit entry holds the kept record's changes and the
    choices made."""
    if keep_id == duplicate_id:
        raise MergeRefused("A record cannot be merged into itself.")
    chosen = sorted(set(take_from_duplicate))
    unknown = [key for key in chosen if key not in MERGE_CHOICES]
    if unknown:
        raise InvalidField(
            "take_from_duplicate",
            f"Unknown field choice {', '.join(unknown)}; choose among {', '.join(MERGE_CHOICES)}.",
        )
    keep = await get_writable_patient(session, keep_id, actor=actor)
    duplicate = await get_writable_patient(session, duplicate_id, actor=actor)
    check_version(keep, expected_version)
    duplicate_mrn = duplicate.mrn
    keep_before = audit.snapshot(keep)

    merge = PatientMerged(actor=actor, kept_id=keep.id, duplicate_id=duplicate.id, reason=reason)
    moving_policies = await insurance.open_policy_ids(session, patient_id=duplicate.id)
    report = await move_records(session, merge, _OWN_RECORDS)
    # Both records may have had a primary policy: the kept record's stays in force.
    await insurance.end_clashes_after_merge(
        session, actor=actor, kept_id=keep.id, moved_ids=moving_policies
    )
    report |= await identity.rebind_to_kept_patient(
        session, actor=actor, duplicate_id=duplicate.id, kept_id=keep.id, reason=reason
    )
    answers: list[Mapping[str, int]] = await patient_merged.send(session, merge)
    for answer in answers:
        report |= answer
    moved = {table: count for table, count in report.items() if count}
    # Records merged into the duplicate earlier now point straight at the kept one.
    await session.execute(
        update(Patient)
        .where(Patient.merged_into_id == duplicate.id)
        .values(merged_into_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    for field in FILLED_FROM_DUPLICATE:
        if getattr(keep, field) is None and getattr(duplicate, field) is not None:
            setattr(keep, field, getattr(duplicate, field))
    for key in chosen:
        for field in MERGE_CHOICES[key]:
            setattr(keep, field, getattr(duplicate, field))
    if "name" in chosen or "preferred_name" in chosen:
        await index_names(session, keep)
    if duplicate.no_known_allergies is False and keep.no_known_allergies:
        keep.no_known_allergies = False  # the duplicate's allergies now count too

    duplicate.merged_into_id = keep.id
    duplicate.merged_at = utcnow()
    await session.execute(delete(PatientNameTerm).where(PatientNameTerm.patient_id == duplicate.id))
    await session.flush()
    # Expire what the bulk updates changed behind the identity map.
    session.expire_all()
    keep = await get_writable_patient(session, keep_id, actor=actor)

    details = {"reason": reason, "moved": moved, "taken_from_duplicate": chosen}
    await audit.record(
        session,
        action="patient.merged",
        actor=actor,
        resource_type="patient",
        resource_id=keep.id,
        patient_id=keep.id,
        changes=audit.changes(keep_before, audit.snapshot(keep)),
        details={**details, "merged_id": str(duplicate_id), "merged_mrn": duplicate_mrn},
    )
    await audit.record(
        session,
        action="patient.merged_into",
        actor=actor,
        resource_type="patient",
        resource_id=duplicate_id,
        patient_id=duplicate_id,
        details={**details, "kept_id": str(keep.id), "kept_mrn": keep.mrn},
    )
    return MergeOutcome(kept=keep, moved=moved, tables_checked=frozenset(report))
