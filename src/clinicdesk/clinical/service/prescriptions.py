"""Prescriptions: prescribe in an open consultation (after the safety checks), read one,
a consultation's or a patient's active ones; discontinue, renew, change, mark entered in
error. Each prescription keeps the chart's medication list in step (it adds the entry
and stops it), through the patients domain's public face.

The safety checks (``kernel.safety``) run on every prescribing: findings without an
``override_reason`` refuse it (409 ``safety-check`` with the findings); with a reason it
goes ahead and the override is audited with the findings it overrode.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import (
    PrescriptionNotFound,
    PrescriptionStepRefused,
    SafetyCheckRequired,
)
from clinicdesk.clinical.kernel.safety import (
    ActiveDrug,
    AllergyFacts,
    DrugFacts,
    Finding,
    check_prescription,
)
from clinicdesk.clinical.kernel.sig import Directions, course_quantity, sig_text
from clinicdesk.clinical.models import Drug, Encounter, Prescription
from clinicdesk.clinical.schemas.prescriptions import (
    PrescriptionChange,
    PrescriptionCheck,
    PrescriptionStop,
    PrescriptionWrite,
)
from clinicdesk.clinical.service import drugs
from clinicdesk.clinical.service.encounters import get_encounter, get_open_encounter
from clinicdesk.clinical.vocabulary import PrescriptionStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients import public as patients

RESOURCE = "prescription"


async def _find(session: AsyncSession, prescription_id: uuid.UUID) -> Prescription:
    found = await session.get(Prescription, prescription_id)
    if found is None:
        raise PrescriptionNotFound("No prescription with this id.")
    return found


async def get_prescription(
    session: AsyncSession, prescription_id: uuid.UUID, *, actor: Actor
) -> Prescription:
    """One prescription, its patient's record open to ``actor``; the read is recorded."""
    found = await _find(session, prescription_id)
    await patients.get_patient(session, found.patient_id, actor=actor)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=found.patient_id,
        view="prescription",
        resource_type=RESOURCE,
        resource_id=found.id,
    )
    return found


async def list_for_encounter(
    session: AsyncSession, encounter_id: uuid.UUID, *, actor: Actor
) -> Sequence[Prescription]:
    """The consultation's prescriptions, oldest first (entered-in-error ones included:
    they stay visible, struck through). The encounter read is the audited read."""
    encounter = await get_encounter(session, encounter_id, actor=actor)
    return await _of_encounter(session, encounter.id)


async def list_for_encounter_unaudited(
    session: AsyncSession, encounter_id: uuid.UUID
) -> Sequence[Prescription]:
    """The consultation's prescriptions for a caller that has already read (and
    recorded the read of) the encounter: the consultation page."""
    return await _of_encounter(session, encounter_id)


async def _of_encounter(session: AsyncSession, encounter_id: uuid.UUID) -> Sequence[Prescription]:
    return (
        await session.scalars(
            select(Prescription)
            .where(Prescription.encounter_id == encounter_id)
            .order_by(Prescription.prescribed_at, Prescription.id)
        )
    ).all()


async def active_for_patient(
    session: AsyncSession, patient_id: uuid.UUID
) -> Sequence[Prescription]:
    """The patient's active prescriptions, newest first (the caller has checked access
    and recorded the read: the consultation page does both for its patient)."""
    return (
        await session.scalars(
            select(Prescription)
            .where(
                Prescription.patient_id == patient_id,
                Prescription.status == PrescriptionStatus.ACTIVE,
            )
            .order_by(Prescription.prescribed_at.desc())
            .limit(100)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    drug: DrugFacts
    findings: list[Finding]


async def run_checks(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter: Encounter,
    drug: Drug | None,
    drug_name: str,
    leaving: Prescription | None = None,
) -> CheckOutcome:
    """The safety findings for ``drug`` (or the free-text ``drug_name``) in
    ``encounter``: against the patient's active allergies, the active medication list and
    this consultation's active prescriptions. ``leaving``: a prescription being changed
    or renewed, which does not count against its successor."""
    allergies = await patients.active_allergies(session, patient_id=encounter.patient_id)
    medications = [
        m
        for m in await patients.list_entries(
            session, actor=actor, patient_id=encounter.patient_id, kind="medications"
        )
        if isinstance(m, patients.Medication) and m.status == "active"
    ]
    here = [
        p
        for p in await _of_encounter(session, encounter.id)
        if p.status == PrescriptionStatus.ACTIVE
    ]
    skip_entries = {p.medication_entry_id for p in here}
    if leaving is not None:
        here = [p for p in here if p.id != leaving.id]
        skip_entries.add(leaving.medication_entry_id)
    medications = [m for m in medications if m.id not in skip_entries]
    drug_rows = {p.drug_id: await drugs.get_drug(session, p.drug_id) for p in here if p.drug_id}
    named: list[tuple[str, Drug | None]] = [(drug.name if drug else drug_name, drug)]
    named += [(a.substance, None) for a in allergies]
    named += [(m.name, None) for m in medications]
    named += [(p.drug_name, drug_rows.get(p.drug_id) if p.drug_id else None) for p in here]
    facts = await drugs.resolve(session, named)
    subject, rest = facts[0], facts[1:]
    allergy_facts = [
        AllergyFacts(a.substance, f, a.reaction, a.severity)
        for a, f in zip(allergies, rest[: len(allergies)], strict=True)
    ]
    rest = rest[len(allergies) :]
    active = [ActiveDrug(f, "medication list") for f in rest[: len(medications)]]
    active += [
        ActiveDrug(f, "prescriptions of this consultation") for f in rest[len(medications) :]
    ]
    findings = check_prescription(
        subject, allergies=allergy_facts, active=active, knowledge=drugs.knowledge()
    )
    return CheckOutcome(subject, findings)


async def check(session: AsyncSession, *, actor: Actor, data: PrescriptionCheck) -> CheckOutcome:
    """The checks alone, nothing prescribed (the form shows them before saving)."""
    encounter = await get_encounter(session, data.encounter_id, actor=actor)
    drug = await drugs.get_drug(session, data.drug_id) if data.drug_id is not None else None
    return await run_checks(
        session, actor=actor, encounter=encounter, drug=drug, drug_name=data.drug_name or ""
    )


def directions(data: PrescriptionWrite | Prescription) -> Directions:
    return Directions(
        dose=data.dose,
        form=data.form,  # type: ignore[arg-type]
        route=data.route,  # type: ignore[arg-type]
        frequency=data.frequency,  # type: ignore[arg-type]
        duration_days=data.duration_days,
        as_needed_for=data.as_needed_for,
        instructions=data.instructions,
    )


def _display_name(name: str, strength: str | None) -> str:
    return f"{name} {strength}" if strength else name


# The audit entry of a change: ``_record(session, actor, action, row, before)``.
_record = partial(audit.record_change, resource_type=RESOURCE)


async def prescribe(
    session: AsyncSession,
    *,
    actor: Actor,
    encounter_id: uuid.UUID,
    data: PrescriptionWrite,
    replaces: Prescription | None = None,
    continues: patients.Medication | None = None,
) -> Prescription:
    """Prescribe in an open consultation. Refused with the findings (409
    ``safety-check``) while the checks find something and no ``override_reason`` is
    given. Adds the drug to the chart's medication list and keeps the entry's id; a
    renewal ``continues`` the entry of the prescription it renews instead (the patient
    has been on the drug all along: one line on the list, since the first start)."""
    encounter = await get_open_encounter(session, encounter_id, actor=actor)
    drug = await drugs.get_drug(session, data.drug_id) if data.drug_id is not None else None
    name = drug.name if drug is not None else (data.drug_name or "")
    outcome = await run_checks(
        session, actor=actor, encounter=encounter, drug=drug, drug_name=name, leaving=replaces
    )
    if outcome.findings and not data.override_reason:
        raise SafetyCheckRequired(
            f"{len(outcome.findings)} safety finding(s) for {name}: read them, then "
            "prescribe again with a reason to override, or choose another drug.",
            findings=[f.as_dict() for f in outcome.findings],
        )
    way = directions(data)
    sig = sig_text(way)
    entry = continues or await patients.add_entry(
        session,
        actor=actor,
        patient_id=encounter.patient_id,
        kind="medications",
        data=patients.MedicationWrite(
            name=_display_name(name, data.strength)[:200],
            dose=f"{way.dose.normalize():f} {way.form.words(way.dose)}"[:100],
            frequency=way.frequency.words,
            route=way.route.label,
            start_date=utcnow().date(),
            notes=f"Prescribed: {sig}"[:2000],
        ),
    )
    rx = Prescription(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        prescribed_by_id=actor.user_id,
        drug_id=drug.id if drug is not None else None,
        drug_name=name[:200],
        strength=data.strength,
        form=data.form,
        dose=data.dose,
        route=data.route,
        frequency=data.frequency,
        as_needed_for=data.as_needed_for,
        duration_days=data.duration_days,
        quantity=data.quantity if data.quantity is not None else course_quantity(way),
        refills=data.refills,
        instructions=data.instructions,
        sig=sig,
        status=PrescriptionStatus.ACTIVE,
        prescribed_at=utcnow(),
        medication_entry_id=entry.id,
        replaces_id=replaces.id if replaces is not None else None,
        override_reason=data.override_reason if outcome.findings else None,
        findings=[f.as_dict() for f in outcome.findings],
    )
    session.add(rx)
    await session.flush()
    await _record(session, actor, "prescription.created", rx, None)
    if outcome.findings:
        await audit.record(
            session,
            action="prescription.safety_overridden",
            actor=actor,
            resource_type=RESOURCE,
            resource_id=rx.id,
            patient_id=rx.patient_id,
            changes={
                "override_reason": {"after": data.override_reason},
                "findings": {"after": rx.findings},
            },
            details={"rules": [f.rule for f in outcome.findings]},
        )
    return rx


async def _active_entry(
    session: AsyncSession, actor: Actor, rx: Prescription
) -> patients.Medication | None:
    """The medication list entry of this prescription, if it is still active (the chart
    may have changed it since)."""
    if rx.medication_entry_id is None:
        return None
    entries = await patients.list_entries(
        session, actor=actor, patient_id=rx.patient_id, kind="medications"
    )
    entry = next((e for e in entries if e.id == rx.medication_entry_id), None)
    if not isinstance(entry, patients.Medication) or entry.status != "active":
        return None
    return entry


async def _stop_entry(session: AsyncSession, actor: Actor, rx: Prescription) -> None:
    """Stop the medication list entry of this prescription, if it is still active."""
    entry = await _active_entry(session, actor, rx)
    if entry is None:
        return
    today = utcnow().date()
    await patients.update_entry(
        session,
        actor=actor,
        patient_id=rx.patient_id,
        kind="medications",
        entry_id=entry.id,
        data=patients.MedicationWrite(
            name=entry.name,
            dose=entry.dose,
            frequency=entry.frequency,
            route=entry.route,
            start_date=entry.start_date,
            stop_date=max(today, entry.start_date) if entry.start_date else today,
            status="stopped",  # type: ignore[arg-type]
            notes=entry.notes,
        ),
        expected_version=None,
    )


async def _writable(
    session: AsyncSession, actor: Actor, prescription_id: uuid.UUID, expected_version: int | None
) -> Prescription:
    rx = await _find(session, prescription_id)
    await patients.get_writable_patient(session, rx.patient_id, actor=actor)
    check_version(rx, expected_version)
    return rx


async def _end(
    session: AsyncSession,
    actor: Actor,
    rx: Prescription,
    *,
    status: PrescriptionStatus,
    reason: str,
    action: str,
    stop_entry: bool = True,
) -> None:
    before = audit.snapshot(rx)
    rx.status = status
    rx.status_reason = reason
    rx.status_changed_at = utcnow()
    await session.flush()
    await _record(session, actor, action, rx, before)
    if stop_entry:
        await _stop_entry(session, actor, rx)


async def discontinue(
    session: AsyncSession,
    *,
    actor: Actor,
    prescription_id: uuid.UUID,
    data: PrescriptionStop,
    expected_version: int | None = None,
) -> Prescription:
    """Stop an active prescription (with its reason) and its medication list entry. Any
    prescriber may, in or out of a consultation: a drug is stopped when it must be."""
    rx = await _writable(session, actor, prescription_id, expected_version)
    if rx.status != PrescriptionStatus.ACTIVE:
        raise PrescriptionStepRefused(f"This prescription is already {rx.status}.")
    await _end(
        session,
        actor,
        rx,
        status=PrescriptionStatus.DISCONTINUED,
        reason=data.reason,
        action="prescription.discontinued",
    )
    return rx


async def mark_entered_in_error(
    session: AsyncSession,
    *,
    actor: Actor,
    prescription_id: uuid.UUID,
    data: PrescriptionStop,
    expected_version: int | None = None,
) -> Prescription:
    """The prescription should never have existed (wrong patient, wrong drug): it stays
    on the record, marked, and its medication list entry is stopped."""
    rx = await _writable(session, actor, prescription_id, expected_version)
    if rx.status == PrescriptionStatus.ENTERED_IN_ERROR:
        raise PrescriptionStepRefused("This prescription is already marked entered in error.")
    await _end(
        session,
        actor,
        rx,
        status=PrescriptionStatus.ENTERED_IN_ERROR,
        reason=data.reason,
        action="prescription.entered_in_error",
    )
    return rx


def _as_write(rx: Prescription, override_reason: str | None) -> PrescriptionWrite:
    return PrescriptionWrite(
        drug_id=rx.drug_id,
        drug_name=None if rx.drug_id is not None else rx.drug_name,
        strength=rx.strength,
        form=rx.form,  # type: ignore[arg-type]
        dose=rx.dose,
        route=rx.route,  # type: ignore[arg-type]
        frequency=rx.frequency,  # type: ignore[arg-type]
        as_needed_for=rx.as_needed_for,
        duration_days=rx.duration_days,
        quantity=rx.quantity,
        refills=rx.refills,
        instructions=rx.instructions,
        override_reason=override_reason,
    )


async def renew(
    session: AsyncSession,
    *,
    actor: Actor,
    prescription_id: uuid.UUID,
    encounter_id: uuid.UUID,
    override_reason: str | None = None,
    expected_version: int | None = None,
) -> Prescription:
    """A new prescription, the same as ``prescription_id``, in the open consultation
    ``encounter_id`` (of the same patient); the old one, if still active, is ended as
    "renewed" and its medication list entry carries on under the new one. The checks
    run again (the patient may have changed since)."""
    old = await _writable(session, actor, prescription_id, expected_version)
    if old.status == PrescriptionStatus.ENTERED_IN_ERROR:
        raise PrescriptionStepRefused("A prescription entered in error cannot be renewed.")
    await _same_patient(session, actor, old, encounter_id)
    # An active prescription's entry carries on; a stopped drug started again gets a
    # new line (the list shows the gap).
    active = old.status == PrescriptionStatus.ACTIVE
    continued = await _active_entry(session, actor, old) if active else None
    new = await prescribe(
        session,
        actor=actor,
        encounter_id=encounter_id,
        data=_as_write(old, override_reason),
        replaces=old,
        continues=continued,
    )
    if old.status == PrescriptionStatus.ACTIVE:
        await _end(
            session,
            actor,
            old,
            status=PrescriptionStatus.DISCONTINUED,
            reason="Renewed",
            action="prescription.renewed",
            stop_entry=continued is None,
        )
    return new


async def change(
    session: AsyncSession,
    *,
    actor: Actor,
    prescription_id: uuid.UUID,
    encounter_id: uuid.UUID,
    data: PrescriptionChange,
    expected_version: int | None = None,
) -> Prescription:
    """Discontinue ``prescription_id`` with ``data.reason`` and prescribe ``data.new`` in
    its place, in one transaction (a refused new prescription leaves the old active)."""
    old = await _writable(session, actor, prescription_id, expected_version)
    if old.status != PrescriptionStatus.ACTIVE:
        raise PrescriptionStepRefused(
            f"Only an active prescription can be changed; this one is {old.status}."
        )
    await _same_patient(session, actor, old, encounter_id)
    new = await prescribe(
        session, actor=actor, encounter_id=encounter_id, data=data.new, replaces=old
    )
    await _end(
        session,
        actor,
        old,
        status=PrescriptionStatus.DISCONTINUED,
        reason=data.reason,
        action="prescription.changed",
    )
    return new


async def _same_patient(
    session: AsyncSession, actor: Actor, old: Prescription, encounter_id: uuid.UUID
) -> None:
    encounter = await get_open_encounter(session, encounter_id, actor=actor)
    if encounter.patient_id != old.patient_id:
        raise PrescriptionStepRefused("This prescription belongs to another patient.")
