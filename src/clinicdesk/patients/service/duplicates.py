"""Likely duplicates of a person, before registering them or on an existing chart.

The database narrows the field (same date of birth, phone, e-mail or identifier, or names
that share sound or spelling keys); ``matching.score_match`` then weighs the evidence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.errors import InvalidField
from clinicdesk.core.tenancy import current_tenant
from clinicdesk.patients.matching import POSSIBLE, MatchScore, PersonFacts, score_match
from clinicdesk.patients.models import Patient, PatientNameTerm
from clinicdesk.patients.phones import normalize_phone
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service.common import organization_locale
from clinicdesk.patients.service.records import identifier_hashes
from clinicdesk.patients.service.terms import keys_of, name_tokens

MAX_CANDIDATES = 200
MAX_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Duplicate:
    patient: Patient
    match: MatchScore


def facts_of_patient(patient: Patient) -> PersonFacts:
    return PersonFacts(
        given_name=patient.given_name,
        family_name=patient.family_name,
        middle_name=patient.middle_name,
        birth_date=patient.birth_date,
        phones=frozenset(p for p in (patient.phone, patient.phone_alt) if p),
        national_id_hash=patient.national_id_hash,
        email=patient.email,
    )


async def facts_of_registration(session: AsyncSession, data: PatientCreate) -> PersonFacts:
    locale = await organization_locale(session)
    phones = set()
    for field in ("phone", "phone_alt"):
        raw = getattr(data, field)
        if raw:
            try:
                phones.add(normalize_phone(raw, default_region=locale.country))
            except ValueError as exc:
                raise InvalidField(field, str(exc)) from None
    hashes = identifier_hashes(data.national_id) if data.national_id else []
    return PersonFacts(
        given_name=data.given_name,
        family_name=data.family_name,
        middle_name=data.middle_name,
        birth_date=data.birth_date,
        phones=frozenset(phones),
        national_id_hash=hashes[0] if hashes else None,
        email=data.email,
    )


async def find_duplicates(
    session: AsyncSession, facts: PersonFacts, *, exclude: uuid.UUID | None = None
) -> list[Duplicate]:
    """Records that may be the same person, most likely first."""
    organization_id = current_tenant(session)
    tokens = name_tokens(facts.given_name, facts.middle_name, facts.family_name)
    keys = [keys_of(t) for t in tokens]
    # Two name tokens alike (given and family, in either order) make a candidate.
    name_match = (
        select(PatientNameTerm.patient_id)
        .where(
            PatientNameTerm.organization_id == organization_id,
            or_(
                PatientNameTerm.token.in_([k.token for k in keys]),
                PatientNameTerm.phonetic.in_([k.phonetic for k in keys]),
                PatientNameTerm.letters.in_([k.letters for k in keys]),
            ),
        )
        .group_by(PatientNameTerm.patient_id)
        .having(func.count() >= min(2, len(keys)))
    )
    conditions: list[ColumnElement[bool]] = [Patient.id.in_(name_match)] if keys else []
    if facts.birth_date is not None:
        conditions.append(Patient.birth_date == facts.birth_date)
    if facts.phones:
        conditions.append(Patient.phone.in_(facts.phones))
        conditions.append(Patient.phone_alt.in_(facts.phones))
    if facts.email:
        conditions.append(Patient.email == facts.email)
    if facts.national_id_hash:
        conditions.append(Patient.national_id_hash == facts.national_id_hash)
    if not conditions:
        return []
    statement = select(Patient).where(or_(*conditions), Patient.merged_into_id.is_(None))
    if exclude is not None:
        statement = statement.where(Patient.id != exclude)
    candidates = (await session.scalars(statement.limit(MAX_CANDIDATES))).all()
    found = []
    for candidate in candidates:
        match = score_match(facts, facts_of_patient(candidate))
        if match.score >= POSSIBLE:
            found.append(Duplicate(patient=candidate, match=match))
    found.sort(key=lambda d: -d.match.score)
    return found[:MAX_SHOWN]
