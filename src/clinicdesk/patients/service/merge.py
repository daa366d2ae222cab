"""Merging a duplicate record into the one that is kept.

Every row of any domain that points at the duplicate (``patients.id`` foreign keys
found in the schema: chart lists, documents, portal accounts, and the appointments,
encounters and invoices of later domains) moves to the kept record in the same
transaction. The duplicate stays as a pointer (``merged_into_id``) so old links resolve.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import Column, Table, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import Base, check_version, utcnow
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.patients.errors import MergeRefused
from clinicdesk.patients.models import Patient, PatientNameTerm
from clinicdesk.patients.service.common import get_writable_patient

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
    "insurance_payer",
    "insurance_member_number",
    "insurance_member_hash",
    "photo_document_id",
)
# Not moved: the search index is rebuilt, and the patients table's own pointers are
# handled below.
_NOT_MOVED = {PatientNameTerm.__tablename__, Patient.__tablename__}


def _references_to_patients() -> Iterator[tuple[Table, Column[uuid.UUID]]]:
    for table in Base.metadata.sorted_tables:
        if table.name in _NOT_MOVED:
            continue
        for column in table.columns:
            if any(fk.column.table.name == Patient.__tablename__ for fk in column.foreign_keys):
                yield table, column


async def merge_patients(
    session: AsyncSession,
    *,
    actor: Actor,
    keep_id: uuid.UUID,
    duplicate_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> tuple[Patient, dict[str, int]]:
    if keep_id == duplicate_id:
        raise MergeRefused("A record cannot be merged into itself.")
    keep = await get_writable_patient(session, keep_id, actor=actor)
    duplicate = await get_writable_patient(session, duplicate_id, actor=actor)
    check_version(keep, expected_version)
    duplicate_mrn = duplicate.mrn
    organization_id = current_tenant(session)
    keep_before = audit.snapshot(keep)

    moved: dict[str, int] = {}
    for table, column in _references_to_patients():
        statement = update(table).where(column == duplicate.id).values({column.name: keep.id})
        if "organization_id" in table.c:
            statement = statement.where(table.c.organization_id == organization_id)
        result = await session.execute(statement)
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            moved[table.name] = count
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
    if duplicate.no_known_allergies is False and keep.no_known_allergies:
        keep.no_known_allergies = False  # the duplicate's allergies now count too

    duplicate.merged_into_id = keep.id
    duplicate.merged_at = utcnow()
    await session.execute(delete(PatientNameTerm).where(PatientNameTerm.patient_id == duplicate.id))
    await session.flush()
    # Expire what the bulk updates changed behind the identity map.
    session.expire_all()
    keep = await get_writable_patient(session, keep_id, actor=actor)

    details = {"reason": reason, "moved": moved}
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
    return keep, moved
