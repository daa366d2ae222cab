"""Printing prescriptions and checking a print: a consultation's active prescriptions on
one sheet with a verification code, and the public answer to "is this sheet valid?".

Rules:
* A sheet holds the consultation's active prescriptions at the moment it is printed;
  printing again issues a new sheet (a new code) and marks the earlier ones replaced, so
  only the newest paper of a consultation is valid.
* The verification answer is minimal: valid / partly cancelled / cancelled / replaced,
  the date, the prescriber and their licence, the clinic, the patient's initials and the
  number of items; never a name, a drug or anything else of the record.
* Printing and every verification are on the audit trail (the patient can see that a
  pharmacy checked their prescription).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import PrescriptionNotFound, PrescriptionStepRefused
from clinicdesk.clinical.models import Encounter, Prescription, PrescriptionSheet
from clinicdesk.clinical.service.encounters import get_encounter
from clinicdesk.clinical.vocabulary import EncounterStatus, PrescriptionStatus
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_by_lookup
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients
from clinicdesk.scheduling import public as scheduling

RESOURCE = "prescription_sheet"
# Crockford's base32 without I, L, O, U: nothing a pharmacist can misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS = 3  # XXXX-XXXX-XXXX: 12 characters, 60 random bits


def new_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(4 * _CODE_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def normal_code(typed: str) -> str | None:
    """A code as printed, from what was typed ("k7q2 m9xp-4tzd" too); None if it cannot
    be one."""
    compact = "".join(c for c in typed.upper() if c.isalnum())
    compact = compact.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(compact) != 4 * _CODE_GROUPS or any(c not in _ALPHABET for c in compact):
        return None
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def initials(given: str, family: str) -> str:
    return "".join(part[:1].upper() + "." for part in (given, family) if part)


@dataclass(frozen=True, slots=True)
class PrintedSheet:
    sheet: PrescriptionSheet
    encounter: Encounter
    patient: patients.Patient
    prescriptions: Sequence[Prescription]
    location: identity.Location | None
    time_zone: str
    date_format: str


async def _items(session: AsyncSession, ids: Sequence[object]) -> list[Prescription]:
    wanted = [uuid.UUID(str(i)) for i in ids]
    rows = {
        rx.id: rx
        for rx in await session.scalars(select(Prescription).where(Prescription.id.in_(wanted)))
    }
    return [rows[i] for i in wanted if i in rows]


async def issue_sheet(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID
) -> PrintedSheet:
    """Print the consultation's active prescriptions (in progress or finished; not a
    cancelled one). Refused (409) when none is active."""
    encounter = await get_encounter(session, encounter_id, actor=actor)
    patient = await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    if encounter.status in (EncounterStatus.CANCELLED, EncounterStatus.ENTERED_IN_ERROR):
        raise PrescriptionStepRefused(f"This consultation is {encounter.status}: nothing to print.")
    active = list(
        await session.scalars(
            select(Prescription)
            .where(
                Prescription.encounter_id == encounter.id,
                Prescription.status == PrescriptionStatus.ACTIVE,
            )
            .order_by(Prescription.prescribed_at, Prescription.id)
        )
    )
    if not active:
        raise PrescriptionStepRefused(
            "This consultation has no active prescription to print. Prescribe first."
        )
    provider = await scheduling.get_provider(session, encounter.provider_id)
    organization = await identity.get_organization(session)
    now = utcnow()
    await session.execute(
        update(PrescriptionSheet)
        .where(
            PrescriptionSheet.encounter_id == encounter.id, PrescriptionSheet.replaced_at.is_(None)
        )
        .values(replaced_at=now, version=PrescriptionSheet.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    sheet = PrescriptionSheet(
        encounter_id=encounter.id,
        patient_id=patient.id,
        issued_by_id=actor.user_id,
        issued_at=now,
        code=new_code(),
        prescription_ids=[str(rx.id) for rx in active],
        patient_initials=initials(patient.given_name, patient.family_name),
        prescriber_name=provider.display_name,
        prescriber_licence=provider.license_number,
        clinic_name=organization.name,
    )
    session.add(sheet)
    await session.flush()
    await audit.record(
        session,
        action="prescription_sheet.printed",
        actor=actor,
        resource_type=RESOURCE,
        resource_id=sheet.id,
        patient_id=patient.id,
        details={"encounter_id": str(encounter.id), "items": len(active)},
    )
    return await _printed(session, sheet, encounter, patient, active)


async def get_sheet(session: AsyncSession, *, actor: Actor, sheet_id: uuid.UUID) -> PrintedSheet:
    """A sheet to print again (the same paper, the same code); the read is recorded."""
    sheet = await session.get(PrescriptionSheet, sheet_id)
    if sheet is None:
        raise PrescriptionNotFound("No printed prescription with this id.")
    encounter = await get_encounter(session, sheet.encounter_id, actor=actor)
    patient = await patients.get_patient(session, sheet.patient_id, actor=actor)
    items = await _items(session, sheet.prescription_ids)
    return await _printed(session, sheet, encounter, patient, items)


async def _printed(
    session: AsyncSession,
    sheet: PrescriptionSheet,
    encounter: Encounter,
    patient: patients.Patient,
    items: Sequence[Prescription],
) -> PrintedSheet:
    organization = await identity.get_organization(session)
    location = None
    if encounter.location_id is not None:
        location = await identity.get_location(session, encounter.location_id)
    zone = (location.time_zone if location else None) or organization.time_zone
    return PrintedSheet(sheet, encounter, patient, items, location, zone, organization.date_format)


class SheetState(StrEnum):
    VALID = "valid"
    PARTLY_CANCELLED = "partly cancelled"
    CANCELLED = "cancelled"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class Verification:
    """What the public page may show of a sheet, and nothing more."""

    state: SheetState
    issued_at: datetime
    prescriber_name: str
    prescriber_licence: str | None
    clinic_name: str
    patient_initials: str
    items: int
    cancelled_items: int
    time_zone: str
    date_format: str


async def verify(session: AsyncSession, *, code: str) -> Verification:
    """The state of the sheet with this code, for anyone holding it (no sign-in). An
    unknown code is 404; each answer is on the audit trail of the patient's record."""
    printed = normal_code(code)
    if printed is None or await scope_by_lookup(session, PrescriptionSheet.code, printed) is None:
        raise PrescriptionNotFound("No prescription has this code. Check it and try again.")
    sheet = await session.scalar(select(PrescriptionSheet).where(PrescriptionSheet.code == printed))
    if sheet is None:
        raise PrescriptionNotFound("No prescription has this code. Check it and try again.")
    items = await _items(session, sheet.prescription_ids)
    cancelled = sum(rx.status != PrescriptionStatus.ACTIVE for rx in items)
    if sheet.replaced_at is not None:
        state = SheetState.REPLACED
    elif cancelled == 0:
        state = SheetState.VALID
    elif cancelled < len(items):
        state = SheetState.PARTLY_CANCELLED
    else:
        state = SheetState.CANCELLED
    organization = await identity.get_organization(session)
    await audit.record(
        session,
        action="prescription_sheet.verified",
        actor=SYSTEM,
        organization_id=sheet.organization_id,
        resource_type=RESOURCE,
        resource_id=sheet.id,
        patient_id=sheet.patient_id,
        details={"state": state.value},
    )
    return Verification(
        state=state,
        issued_at=sheet.issued_at,
        prescriber_name=sheet.prescriber_name,
        prescriber_licence=sheet.prescriber_licence,
        clinic_name=sheet.clinic_name,
        patient_initials=sheet.patient_initials,
        items=len(items),
        cancelled_items=cancelled,
        time_zone=organization.time_zone,
        date_format=organization.date_format,
    )
