"""Vital signs: record a set (in a consultation, or for a patient outside one), mark a
measurement entered in error, read a patient's latest set, one kind's series over time
and the trends; the organization's unit system.

Rules:

* Nurses and doctors record (``VitalsWrite``). Into a consultation only while it is open
  (``get_open_encounter``); without one, on any record the actor may change.
* Values are typed in the organization's unit system (or the one the request names),
  stored metric in UCUM units (``kernel.units``); an impossible value refuses the whole
  set with the valid range at the field (``kernel.vital_ranges``), nothing is stored.
* Each stored value is flagged low / normal / high for the patient's age on the day it
  was measured. BMI is computed on saving from the set's weight and height; an adult's
  weight without a height uses their latest height (adults do not grow).
* Nothing is deleted. Entered-in-error carries the reason; a blood pressure's two numbers
  go together, and a BMI computed from a wrong height or weight of its set goes with it.
* Every change and every read of a patient's vitals is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import ObservationNotFound, ObservationStepRefused, VitalsRefused
from clinicdesk.clinical.kernel.units import UnitSystem
from clinicdesk.clinical.kernel.vital_ranges import (
    BMI,
    BY_CODE,
    BY_KEY,
    DIASTOLIC,
    HEIGHT,
    SYSTOLIC,
    WEIGHT,
    AgeBand,
    Vital,
    age_band,
    body_mass_index,
    check_entry,
    interpret,
)
from clinicdesk.clinical.models import ClinicalSettings, Observation
from clinicdesk.clinical.schemas.vitals import ClinicalSettingsWrite, VitalsRecord
from clinicdesk.clinical.service import encounters
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, new_id, utcnow
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients

RESOURCE = "observation"
FINAL = "final"
ENTERED_IN_ERROR = "entered-in-error"
# A clock a little ahead of the server's is not a measurement from the future.
CLOCK_SLACK = timedelta(minutes=5)
SERIES_LIMIT = 200
TREND_POINTS = 200


# --- the organization's unit system ---------------------------------------------------


async def get_settings(session: AsyncSession) -> ClinicalSettings:
    """The organization's clinical settings; until an admin saves them, the defaults
    (an unsaved row with version 0, so reading never writes)."""
    found = await session.scalar(select(ClinicalSettings))
    return found or ClinicalSettings(unit_system=UnitSystem.METRIC.value, version=0)


async def unit_system(session: AsyncSession) -> UnitSystem:
    return UnitSystem((await get_settings(session)).unit_system)


async def update_settings(
    session: AsyncSession,
    *,
    actor: Actor,
    data: ClinicalSettingsWrite,
    expected_version: int | None,
) -> ClinicalSettings:
    settings = await get_settings(session)
    check_version(settings, expected_version)
    before = audit.snapshot(settings)
    settings.unit_system = data.unit_system
    if inspect(settings).transient:
        session.add(settings)
    await session.flush()
    await audit.record(
        session,
        action="clinical_settings.updated",
        actor=actor,
        resource_type="clinical_settings",
        resource_id=settings.id,
        changes=audit.changes(before, audit.snapshot(settings)),
    )
    return settings


# --- recording ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VitalsSet:
    """Measurements typed together, in form order."""

    set_id: uuid.UUID
    patient_id: uuid.UUID
    encounter_id: uuid.UUID | None
    effective_at: datetime
    observations: Sequence[Observation]

    def of(self, vital: Vital) -> Observation | None:
        return next((o for o in self.observations if o.code == vital.code), None)


def _in_form_order(rows: Sequence[Observation]) -> list[Observation]:
    order = {v.code: i for i, v in enumerate(BY_KEY.values())}
    return sorted(rows, key=lambda o: order.get(o.code, len(order)))


def _check_time(effective_at: datetime, birth_date: date) -> None:
    if effective_at > utcnow() + CLOCK_SLACK:
        raise VitalsRefused({"effective_at": "The time measured cannot be in the future."})
    if effective_at.date() < birth_date - timedelta(days=1):
        raise VitalsRefused(
            {"effective_at": "The time measured is before the patient's date of birth."}
        )


async def _latest_height(session: AsyncSession, patient_id: uuid.UUID) -> Decimal | None:
    return await session.scalar(
        select(Observation.value)
        .where(
            Observation.patient_id == patient_id,
            Observation.code == HEIGHT.code,
            Observation.status == FINAL,
        )
        .order_by(Observation.effective_at.desc())
        .limit(1)
    )


async def record_vitals(
    session: AsyncSession,
    *,
    actor: Actor,
    data: VitalsRecord,
    encounter_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> VitalsSet:
    """Record a set into the open consultation ``encounter_id``, or for ``patient_id``
    outside one (exactly one of them). Refused whole (422, ``VitalsRefused``, a message
    per field) when a value is impossible; 409 when the consultation is closed."""
    if encounter_id is not None:
        encounter = await encounters.get_open_encounter(session, encounter_id, actor=actor)
        patient = await patients.get_writable_patient(session, encounter.patient_id, actor=actor)
    elif patient_id is not None:
        patient = await patients.get_writable_patient(session, patient_id, actor=actor)
    else:  # pragma: no cover - the routes always name one
        raise ValueError("record_vitals needs an encounter or a patient")
    system = UnitSystem(data.units) if data.units else await unit_system(session)
    checked = check_entry(data.typed(), system)
    if checked.problems:
        raise VitalsRefused(checked.problems)
    effective_at = data.effective_at or utcnow()
    _check_time(effective_at, patient.birth_date)
    band = age_band(patient.birth_date, effective_at.date())
    values = dict(checked.values)
    if WEIGHT.key in values:
        height = values.get(HEIGHT.key)
        if height is None and band is AgeBand.ADULT:
            height = await _latest_height(session, patient.id)
        if height is not None:
            values[BMI.key] = body_mass_index(height, values[WEIGHT.key])
    set_id = new_id()
    rows = []
    for key, value in values.items():
        vital = BY_KEY[key]
        flag = interpret(key, value, band)
        rows.append(
            Observation(
                patient_id=patient.id,
                encounter_id=encounter_id,
                set_id=set_id,
                code=vital.code,
                value=value,
                unit=vital.unit,
                interpretation=flag.value if flag else None,
                effective_at=effective_at,
                status=FINAL,
                recorded_by_id=actor.user_id,
            )
        )
    session.add_all(rows)
    await session.flush()
    # One entry for the set: the values as stored, by LOINC code ("8867-4": "72 /min").
    await audit.record(
        session,
        action="vitals.recorded",
        actor=actor,
        resource_type="vitals_set",
        resource_id=set_id,
        patient_id=patient.id,
        changes=audit.changes(None, {o.code: f"{o.value} {o.unit}" for o in rows}),
        details={"encounter_id": str(encounter_id) if encounter_id else None, "units": system},
    )
    ordered = _in_form_order(rows)
    return VitalsSet(set_id, patient.id, encounter_id, effective_at, ordered)


async def _find(session: AsyncSession, observation_id: uuid.UUID) -> Observation:
    found = await session.get(Observation, observation_id)
    if found is None:
        raise ObservationNotFound("No observation with this id.")
    return found


async def _goes_with(session: AsyncSession, observation: Observation) -> list[Observation]:
    """The rows that are wrong when ``observation`` is: the other number of a blood
    pressure, and a BMI computed from a height or weight of the same set."""
    codes: set[str] = set()
    if observation.code in (SYSTOLIC.code, DIASTOLIC.code):
        codes = {SYSTOLIC.code, DIASTOLIC.code} - {observation.code}
    elif observation.code in (HEIGHT.code, WEIGHT.code):
        codes = {BMI.code}
    if not codes:
        return []
    return list(
        await session.scalars(
            select(Observation).where(
                Observation.set_id == observation.set_id,
                Observation.code.in_(codes),
                Observation.status == FINAL,
            )
        )
    )


async def mark_entered_in_error(
    session: AsyncSession,
    *,
    actor: Actor,
    observation_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> list[Observation]:
    """Mark a measurement (and what goes with it) as never valid, with the reason. It
    stays on the record; the consultation need not be open (a mistake found later is
    still corrected). Refused (409) when already marked."""
    observation = await _find(session, observation_id)
    await patients.get_writable_patient(session, observation.patient_id, actor=actor)
    check_version(observation, expected_version)
    if observation.status == ENTERED_IN_ERROR:
        raise ObservationStepRefused("This measurement is already marked entered in error.")
    marked = [observation, *(await _goes_with(session, observation))]
    for row in marked:
        before = audit.snapshot(row)
        row.status = ENTERED_IN_ERROR
        row.error_reason = reason
        await session.flush()
        await audit.record(
            session,
            action="observation.entered_in_error",
            actor=actor,
            resource_type=RESOURCE,
            resource_id=row.id,
            patient_id=row.patient_id,
            changes=audit.changes(before, audit.snapshot(row)),
        )
    return marked


# --- reading --------------------------------------------------------------------------


async def _latest_set_of(session: AsyncSession, patient_id: uuid.UUID) -> VitalsSet | None:
    set_id = await session.scalar(
        select(Observation.set_id)
        .where(Observation.patient_id == patient_id, Observation.status == FINAL)
        .order_by(Observation.effective_at.desc(), Observation.id.desc())
        .limit(1)
    )
    if set_id is None:
        return None
    rows = list(
        await session.scalars(
            select(Observation).where(
                Observation.set_id == set_id,
                Observation.patient_id == patient_id,
                Observation.status == FINAL,
            )
        )
    )
    first = rows[0]
    return VitalsSet(
        set_id, patient_id, first.encounter_id, first.effective_at, _in_form_order(rows)
    )


async def latest_set(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID
) -> VitalsSet | None:
    """The patient's most recently measured set (entered-in-error rows left out)."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    found = await _latest_set_of(session, patient.id)
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="vitals")
    return found


async def latest_value(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, vital: Vital
) -> Observation | None:
    """The patient's latest valid measurement of one kind (the banner's weight)."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    found = await session.scalar(
        select(Observation)
        .where(
            Observation.patient_id == patient.id,
            Observation.code == vital.code,
            Observation.status == FINAL,
        )
        .order_by(Observation.effective_at.desc())
        .limit(1)
    )
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="vitals")
    return found


@dataclass(frozen=True, slots=True)
class ObservationPage:
    items: Sequence[Observation]
    next_cursor: str | None


async def list_observations(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    code: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ObservationPage:
    """The patient's measurements (of one LOINC ``code``, or all), newest first, a page
    at a time (at most ``SERIES_LIMIT``), entered-in-error ones included with their
    status."""
    if code is not None and code not in BY_CODE:
        raise ObservationNotFound(
            f"Unknown vital sign code {code!r}; the codes are " + ", ".join(BY_CODE) + "."
        )
    patient = await patients.get_patient(session, patient_id, actor=actor)
    limit = max(1, min(limit, SERIES_LIMIT))
    offset = decode_cursor(cursor)
    query = select(Observation).where(Observation.patient_id == patient.id)
    if code is not None:
        query = query.where(Observation.code == code)
    rows = list(
        await session.scalars(
            query.order_by(Observation.effective_at.desc(), Observation.id.desc())
            .offset(offset)
            .limit(limit + 1)
        )
    )
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="vitals")
    more = len(rows) > limit
    return ObservationPage(rows[:limit], encode_cursor(offset + limit) if more else None)


@dataclass(frozen=True, slots=True)
class Trend:
    """One kind's valid measurements, oldest first (the last ``TREND_POINTS``)."""

    vital: Vital
    points: Sequence[tuple[datetime, Decimal, str | None]]


async def trends(session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID) -> list[Trend]:
    """Every kind the patient has measurements of, for the trends page. Bounded: the last
    ``TREND_POINTS`` of each kind, each read by the patient-code-time index."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    found = []
    for vital in BY_KEY.values():
        rows = (
            await session.execute(
                select(Observation.effective_at, Observation.value, Observation.interpretation)
                .where(
                    Observation.patient_id == patient.id,
                    Observation.code == vital.code,
                    Observation.status == FINAL,
                )
                .order_by(Observation.effective_at.desc())
                .limit(TREND_POINTS)
            )
        ).all()
        if rows:
            found.append(Trend(vital, [(r[0], r[1], r[2]) for r in reversed(rows)]))
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="vitals trends")
    return found


# --- text for notes (quick phrases) -----------------------------------------------------


async def _day(session: AsyncSession, moment: datetime) -> str:
    zone = ZoneInfo((await identity.get_organization(session)).time_zone or "UTC")
    return moment.astimezone(zone).date().isoformat()


def _pressure(found: VitalsSet) -> str | None:
    systolic, diastolic = found.of(SYSTOLIC), found.of(DIASTOLIC)
    if systolic is None or diastolic is None:
        return None
    return f"BP {systolic.value:.0f}/{diastolic.value:.0f} mmHg"


async def latest_vitals_text(session: AsyncSession, *, patient_id: uuid.UUID) -> str | None:
    """The latest set as one line for a note: "BP 128/82 mmHg, Pulse 72 /min, ...
    (2026-12-04)", in the organization's units; None without any. The caller's use case
    (writing the note) is the read of the record; nothing is audited here."""
    found = await _latest_set_of(session, patient_id)
    if found is None:
        return None
    system = await unit_system(session)
    parts = [p for p in [_pressure(found)] if p]
    for row in found.observations:
        vital = BY_CODE[row.code]
        if vital in (SYSTOLIC, DIASTOLIC):
            continue
        parts.append(f"{vital.label} {vital.text(row.value, system)}")
    return ", ".join(parts) + f" ({await _day(session, found.effective_at)})"


async def latest_blood_pressure_text(session: AsyncSession, *, patient_id: uuid.UUID) -> str | None:
    """The latest blood pressure for a note: "BP 128/82 mmHg (2026-12-04)"; None without
    one. Not audited, as ``latest_vitals_text``."""
    systolic_at = await session.scalar(
        select(Observation.set_id)
        .where(
            Observation.patient_id == patient_id,
            Observation.code == SYSTOLIC.code,
            Observation.status == FINAL,
        )
        .order_by(Observation.effective_at.desc())
        .limit(1)
    )
    if systolic_at is None:
        return None
    rows = list(
        await session.scalars(
            select(Observation).where(
                Observation.set_id == systolic_at, Observation.status == FINAL
            )
        )
    )
    found = VitalsSet(systolic_at, patient_id, None, rows[0].effective_at, rows)
    text = _pressure(found)
    if text is None:
        return None
    return f"{text} ({await _day(session, found.effective_at)})"


async def banner_facts(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    latest: VitalsSet | None = None,
    system: UnitSystem | None = None,
) -> list[str]:
    """What the consultation's patient banner adds: the latest weight and its day
    ("Weight 72.5 kg (2026-12-04)"), in the organization's units. A caller holding the
    patient's latest set (``latest``) and the units saves the look-ups: a weight in the
    latest set is the latest weight."""
    weight = latest.of(WEIGHT) if latest is not None else None
    if weight is None:
        weight = await latest_value(session, actor=actor, patient_id=patient_id, vital=WEIGHT)
    if weight is None:
        return []
    shown = WEIGHT.text(weight.value, system or await unit_system(session))
    return [f"Weight {shown} ({await _day(session, weight.effective_at)})"]
