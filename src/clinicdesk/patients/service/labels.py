"""A patient's name and MRN for a list over many patients (an export of thousands of
rows), read from those columns alone: loading whole records costs most of such an
export's time (every column converted, every object tracked by the session)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import current_tenant
from clinicdesk.patients.models import Patient, full_name_of


@dataclass(frozen=True, slots=True)
class PatientLabel:
    full_name: str
    """As ``Patient.full_name``: given, middle and family name."""
    mrn: str


async def labels_by_id(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, PatientLabel]:
    """Name and MRN per patient id (merged records too, as ``patients_by_id``); ids of
    no patient of the organization are left out. Records no read: the caller does."""
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Patient.id, Patient.mrn, Patient.given_name, Patient.middle_name, Patient.family_name
        ).where(Patient.organization_id == current_tenant(session), Patient.id.in_(ids))
    )
    return {
        patient_id: PatientLabel(full_name_of(given, middle, family), mrn)
        for patient_id, mrn, given, middle, family in rows
    }
