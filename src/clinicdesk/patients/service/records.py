"""Registering and updating patients, their identifiers, and reading demographics."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.counters import next_value
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version
from clinicdesk.patients.models import AccessGrant, Patient
from clinicdesk.patients.phones import normalize_phone
from clinicdesk.patients.schemas import Demographics, PatientCreate, PatientRead, PatientUpdate
from clinicdesk.patients.service import restricted
from clinicdesk.patients.service.common import (
    Locale,
    find_patient,
    get_patient,
    get_writable_patient,
    organization_locale,
    record_read,
)
from clinicdesk.patients.service.terms import index_names

MRN_COUNTER = "patient_mrn"
# The first record number: every MRN has the same length for a long time (six digits
# up to 899,999 patients) and none starts with 0, which spreadsheets would drop.
MRN_BASE = 100_000
PHONE_FIELDS = ("phone", "phone_alt", "emergency_contact_phone")
# Insurance member numbers live on the policies (``service/insurance.py``).
IDENTIFIERS = {"national_id": "national_id_hash"}
_IDENTIFIER_NOISE = re.compile(r"[\s\-./]")


def luhn_digit(number: str) -> str:
    """The Luhn check digit of a string of digits: one mistyped digit or two swapped
    neighbours make the MRN invalid instead of pointing at another patient."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def format_mrn(sequence: int) -> str:
    number = str(MRN_BASE + sequence)
    return number + luhn_digit(number)


def is_valid_mrn(value: str) -> bool:
    return value.isdigit() and len(value) >= 2 and luhn_digit(value[:-1]) == value[-1]


def normalize_identifier(value: str) -> str:
    """National IDs and member numbers compare without spaces, dashes, dots or case."""
    return _IDENTIFIER_NOISE.sub("", value).upper()


def identifier_hashes(value: str) -> list[str]:
    """Lookup hashes of ``value`` under every key of the ring (during a key rotation, rows
    not yet re-hashed carry an older key's hash)."""
    return field_keyring().lookup_hashes(normalize_identifier(value))


def mask_identifier(value: str | None) -> str | None:
    if not value:
        return None
    visible = value[-4:] if len(value) > 6 else value[-2:]
    return "•" * max(len(value) - len(visible), 3) + visible


def _phones(data: Demographics, locale: Locale) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for field in PHONE_FIELDS:
        raw = getattr(data, field)
        if not raw:
            result[field] = None
            continue
        try:
            result[field] = normalize_phone(raw, default_region=locale.country)
        except ValueError as exc:
            raise InvalidField(field, str(exc)) from None
    return result


def _apply(patient: Patient, data: Demographics, locale: Locale) -> None:
    values: dict[str, Any] = data.model_dump(exclude=set(IDENTIFIERS))
    values.update(_phones(data, locale))
    for field, value in values.items():
        setattr(patient, field, value)
    keyring = field_keyring()
    for field, hash_field in IDENTIFIERS.items():
        raw = getattr(data, field)
        normalized = normalize_identifier(raw) if raw else None
        setattr(patient, field, normalized or None)
        setattr(patient, hash_field, keyring.lookup_hash(normalized) if normalized else None)


def to_read(patient: Patient) -> PatientRead:
    read = PatientRead.model_validate(patient)
    read.national_id_masked = mask_identifier(patient.national_id)
    return read


async def register_patient(session: AsyncSession, *, actor: Actor, data: PatientCreate) -> Patient:
    """A new patient with the next MRN. Likely duplicates are the caller's to show first
    (``find_duplicates``); registering anyway is allowed."""
    locale = await organization_locale(session)
    sequence = await next_value(session, MRN_COUNTER)
    patient = Patient(mrn=format_mrn(sequence))
    _apply(patient, data, locale)
    session.add(patient)
    await session.flush()
    await index_names(session, patient)
    await audit.record(
        session,
        action="patient.created",
        actor=actor,
        resource_type="patient",
        resource_id=patient.id,
        patient_id=patient.id,
        changes=audit.changes(None, audit.snapshot(patient)),
    )
    return patient


async def update_patient(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    data: PatientUpdate,
    expected_version: int | None,
    keep_identifiers: bool = False,
) -> Patient:
    """Replace the demographics. ``keep_identifiers``: the form shows identifiers masked,
    so an empty identifier field there means "unchanged", not "erase"."""
    locale = await organization_locale(session)
    patient = await get_writable_patient(session, patient_id, actor=actor)
    check_version(patient, expected_version)
    before = audit.snapshot(patient)
    if keep_identifiers:
        data = data.model_copy(
            update={field: getattr(data, field) or getattr(patient, field) for field in IDENTIFIERS}
        )
    _apply(patient, data, locale)
    patient.no_known_allergies = data.no_known_allergies
    await session.flush()
    await index_names(session, patient)
    diff = audit.changes(before, audit.snapshot(patient))
    if diff:
        await audit.record(
            session,
            action="patient.updated",
            actor=actor,
            resource_type="patient",
            resource_id=patient.id,
            patient_id=patient.id,
            changes=diff,
        )
    return patient


async def read_patient(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, view: str = "demographics"
) -> Patient:
    """The patient for display, with the read on the audit trail."""
    patient = await get_patient(session, patient_id, actor=actor)
    await record_read(session, actor=actor, patient=patient, what=view)
    return patient


async def restrict_record(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    restricted_: bool,
    expected_version: int | None = None,
) -> Patient:
    """Restrict the record to its care team (the actor joins it) or open it again."""
    patient = await get_writable_patient(session, patient_id, actor=actor)
    check_version(patient, expected_version)
    return await restricted.set_restricted(
        session, actor=actor, patient=patient, restricted=restricted_
    )


async def open_in_emergency(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, reason: str, minutes: int
) -> AccessGrant:
    """Break the glass on a restricted record (see ``restricted.break_glass``)."""
    patient = await find_patient(session, patient_id, actor=actor)
    return await restricted.break_glass(
        session, actor=actor, patient=patient, reason=reason, minutes=minutes
    )


async def reveal_identifier(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, field: str
) -> str | None:
    """The clear value of an encrypted identifier; every reveal is on the audit trail."""
    if field not in IDENTIFIERS:
        raise InvalidField(
            "field",
            "Only national_id can be revealed here; a member number is revealed on its policy.",
        )
    patient = await get_patient(session, patient_id, actor=actor)
    await audit.record(
        session,
        action="patient.identifier_revealed",
        actor=actor,
        resource_type="patient",
        resource_id=patient.id,
        patient_id=patient.id,
        details={"field": field},
    )
    value: str | None = getattr(patient, field)
    return value
