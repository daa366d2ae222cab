"""The chart lists (allergies, medications, problems, history) at the service level, on
SQLite and PostgreSQL: versions, ordering, the ICD-10 check, "no known allergies", the
audit trail, who reaches which chart, and tenant isolation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.errors import Forbidden, InvalidField, PreconditionFailed
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.patients.errors import ChartEntryNotFound, PatientNotFound
from clinicdesk.patients.models import Allergy, ChartRecord, Patient, Problem
from clinicdesk.patients.schemas import AllergyWrite, HistoryWrite, MedicationWrite, ProblemWrite
from clinicdesk.patients.service import chart
from clinicdesk.patients.vocabulary import (
    AllergySeverity,
    ClinicalStatus,
    HistoryKind,
    MedicationStatus,
)
from tests.support.identity import create_org, create_user
from tests.support.patients import register_patient

CLINICAL = frozenset(
    {
        Permission.PATIENTS_READ,
        Permission.PATIENTS_WRITE,
        Permission.CLINICAL_READ,
        Permission.CLINICAL_WRITE,
        Permission.ALLERGIES_WRITE,
    }
)


@dataclass(frozen=True)
class Kind:
    """One chart list: a first entry, its correction, and the field that changes."""

    name: str
    noun: str
    first: BaseModel
    corrected: BaseModel
    field: str
    before: str
    after: str


KINDS = [
    Kind(
        "allergies",
        "allergy",
        AllergyWrite(substance="Penicillin", severity=AllergySeverity.MILD),
        AllergyWrite(substance="Penicillin", severity=AllergySeverity.SEVERE),
        "severity",
        "mild",
        "severe",
    ),
    Kind(
        "medications",
        "medication",
        MedicationWrite(name="Metformin", dose="500 mg"),
        MedicationWrite(name="Metformin", dose="1000 mg"),
        "dose",
        "500 mg",
        "1000 mg",
    ),
    Kind(
        "problems",
        "problem",
        ProblemWrite(description="Diabetes", icd10_code="E11.9"),
        ProblemWrite(description="Type 2 diabetes", icd10_code="E11.9"),
        "description",
        "Diabetes",
        "Type 2 diabetes",
    ),
    Kind(
        "history",
        "history",
        HistoryWrite(kind=HistoryKind.SURGICAL, description="Appendectomy"),
        HistoryWrite(kind=HistoryKind.SURGICAL, description="Laparoscopic appendectomy"),
        "description",
        "Appendectomy",
        "Laparoscopic appendectomy",
    ),
]


@dataclass(frozen=True)
class Chart:
    """A patient's chart opened by a doctor: the service calls with the usual arguments
    (another patient or actor where a test says so)."""

    session: AsyncSession
    doctor: Actor
    patient: Patient

    async def add(
        self,
        kind: str,
        data: BaseModel,
        *,
        actor: Actor | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> ChartRecord:
        return await chart.add_entry(
            self.session,
            actor=actor or self.doctor,
            patient_id=patient_id or self.patient.id,
            kind=kind,
            data=data,
        )

    async def update(
        self,
        kind: str,
        entry_id: uuid.UUID,
        data: BaseModel,
        *,
        version: int | None,
        patient_id: uuid.UUID | None = None,
    ) -> ChartRecord:
        return await chart.update_entry(
            self.session,
            actor=self.doctor,
            patient_id=patient_id or self.patient.id,
            kind=kind,
            entry_id=entry_id,
            data=data,
            expected_version=version,
        )

    async def remove(
        self,
        kind: str,
        entry_id: uuid.UUID,
        *,
        version: int | None,
        patient_id: uuid.UUID | None = None,
    ) -> None:
        await chart.remove_entry(
            self.session,
            actor=self.doctor,
            patient_id=patient_id or self.patient.id,
            kind=kind,
            entry_id=entry_id,
            expected_version=version,
        )

    async def entries(
        self, kind: str, *, actor: Actor | None = None, patient_id: uuid.UUID | None = None
    ) -> Sequence[ChartRecord]:
        return await chart.list_entries(
            self.session,
            actor=actor or self.doctor,
            patient_id=patient_id or self.patient.id,
            kind=kind,
        )


async def open_chart(session: AsyncSession, clinic: Organization) -> Chart:
    user = await create_user(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    doctor = Actor(
        kind=ActorKind.STAFF, organization_id=clinic.id, user_id=user.id, permissions=CLINICAL
    )
    patient = await register_patient(session, actor=doctor)
    return Chart(session, doctor, patient)


async def audit_entries(session: AsyncSession, entry_id: uuid.UUID) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.resource_id == str(entry_id))
    # Entries are chained (given their seq) after commit on PostgreSQL: in a test's open
    # transaction they have none yet, and their time and time-ordered id keep the order.
    order = (AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.id)
    return list((await session.scalars(statement.order_by(*order))).all())


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_add_update_remove_with_versions_and_an_audit_entry_per_change(
    session: AsyncSession, clinic: Organization, kind: Kind
) -> None:
    c = await open_chart(session, clinic)
    entry = await c.add(kind.name, kind.first)
    assert entry.version == 1
    assert entry.recorded_by_id == c.doctor.user_id
    updated = await c.update(kind.name, entry.id, kind.corrected, version=1)
    assert updated.version == 2
    assert getattr(updated, kind.field) == kind.after

    with pytest.raises(PreconditionFailed):
        await c.update(kind.name, entry.id, kind.first, version=1)
    with pytest.raises(PreconditionFailed):
        await c.remove(kind.name, entry.id, version=1)
    assert getattr(entry, kind.field) == kind.after  # the stale change was not applied

    await c.remove(kind.name, entry.id, version=2)
    listed = await c.entries(kind.name)
    assert listed == []

    added, changed, removed = await audit_entries(session, entry.id)
    assert [e.action for e in (added, changed, removed)] == [
        f"{kind.noun}.added",
        f"{kind.noun}.updated",
        f"{kind.noun}.removed",
    ]
    assert {e.patient_id for e in (added, changed, removed)} == {c.patient.id}
    assert {e.actor_user_id for e in (added, changed, removed)} == {c.doctor.user_id}
    assert added.changes is not None and changed.changes is not None
    assert removed.changes is not None
    assert added.changes[kind.field] == {"after": kind.before}
    assert changed.changes == {kind.field: {"before": kind.before, "after": kind.after}}
    assert removed.changes[kind.field] == {"before": kind.after, "after": None}


async def test_an_update_that_changes_nothing_writes_no_audit_entry(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    data = MedicationWrite(name="Lisinopril", dose="10 mg")
    entry = await c.add("medications", data)
    await c.update("medications", entry.id, data, version=entry.version)
    assert [e.action for e in await audit_entries(session, entry.id)] == ["medication.added"]


async def test_allergies_list_active_first_then_the_most_severe_then_newest(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    made: dict[str, uuid.UUID] = {}
    for substance, severity, status in (
        ("old-severe", AllergySeverity.SEVERE, ClinicalStatus.INACTIVE),
        ("mild", AllergySeverity.MILD, ClinicalStatus.ACTIVE),
        ("unrated", None, ClinicalStatus.ACTIVE),
        ("severe", AllergySeverity.SEVERE, ClinicalStatus.ACTIVE),
        ("moderate", AllergySeverity.MODERATE, ClinicalStatus.ACTIVE),
    ):
        entry = await c.add(
            "allergies", AllergyWrite(substance=substance, severity=severity, status=status)
        )
        made[substance] = entry.id

    listed = await c.entries("allergies")
    assert [e.id for e in listed] == [
        made[s] for s in ("severe", "moderate", "unrated", "mild", "old-severe")
    ]
    banner = await chart.active_allergies(session, patient_id=c.patient.id)
    assert [a.substance for a in banner] == ["severe", "moderate", "unrated", "mild"]


async def test_medications_and_problems_list_active_first_then_newest(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    for name, status in (
        ("Aspirin", MedicationStatus.ACTIVE),
        ("Amoxicillin", MedicationStatus.COMPLETED),
        ("Atorvastatin", MedicationStatus.ACTIVE),
        ("Warfarin", MedicationStatus.STOPPED),
    ):
        await c.add("medications", MedicationWrite(name=name, status=status))
    for description, problem_status in (
        ("Asthma", ClinicalStatus.RESOLVED),
        ("Hypertension", ClinicalStatus.ACTIVE),
        ("Eczema", ClinicalStatus.INACTIVE),
    ):
        await c.add("problems", ProblemWrite(description=description, status=problem_status))
    for description in ("Tonsillectomy", "Knee arthroscopy"):
        await c.add("history", HistoryWrite(kind=HistoryKind.SURGICAL, description=description))

    async def names(kind: str, attribute: str) -> list[str]:
        listed = await c.entries(kind)
        return [getattr(e, attribute) for e in listed]

    assert await names("medications", "name") == [
        "Atorvastatin",
        "Aspirin",
        "Warfarin",
        "Amoxicillin",
    ]
    assert await names("problems", "description") == ["Hypertension", "Eczema", "Asthma"]
    assert await names("history", "description") == ["Knee arthroscopy", "Tonsillectomy"]


async def test_a_problem_needs_a_real_icd10_code_stored_as_written_in_the_classification(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    with pytest.raises(InvalidField) as refused:
        await c.add("problems", ProblemWrite(description="Made up", icd10_code="Q99.999"))
    assert "Q99.999" in str(refused.value)
    assert (
        await session.scalar(select(Problem.id).where(Problem.patient_id == c.patient.id)) is None
    )

    problem = await c.add("problems", ProblemWrite(description="Diabetes", icd10_code="e119"))
    assert isinstance(problem, Problem)
    assert problem.icd10_code == "E11.9"

    with pytest.raises(InvalidField):
        await c.update(
            "problems",
            problem.id,
            ProblemWrite(description="Diabetes", icd10_code="XYZ"),
            version=problem.version,
        )
    assert problem.icd10_code == "E11.9"


async def test_an_allergy_clears_no_known_allergies_and_other_entries_do_not(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    c.patient.no_known_allergies = True
    await session.flush()
    await c.add("medications", MedicationWrite(name="Ibuprofen"))
    assert c.patient.no_known_allergies is True

    await c.add("allergies", AllergyWrite(substance="Latex"))
    await session.refresh(c.patient)
    assert c.patient.no_known_allergies is False


async def test_a_portal_user_reaches_only_their_own_chart(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    other = await register_patient(session, given_name="Other", birth_date=date(1991, 2, 3))
    await c.add("allergies", AllergyWrite(substance="Peanut"))
    portal = Actor(kind=ActorKind.PATIENT, organization_id=clinic.id, patient_id=other.id)

    with pytest.raises(PatientNotFound):
        await c.entries("allergies", actor=portal)
    with pytest.raises(PatientNotFound):
        await c.add("allergies", AllergyWrite(substance="Shellfish"), actor=portal)
    own = await c.entries("allergies", actor=portal, patient_id=other.id)
    assert own == []


async def test_an_entry_is_found_only_on_its_own_chart(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    other = await register_patient(session, actor=c.doctor)
    entry = await c.add("allergies", AllergyWrite(substance="Sulfa"))
    with pytest.raises(ChartEntryNotFound):
        await c.remove("allergies", entry.id, version=entry.version, patient_id=other.id)
    with pytest.raises(ChartEntryNotFound):  # the id of an allergy is no medication
        await c.remove("medications", entry.id, version=entry.version)
    assert await session.get(Allergy, entry.id) is entry


async def test_another_organizations_chart_and_entries_are_not_found(
    session: AsyncSession, clinic: Organization
) -> None:
    c = await open_chart(session, clinic)
    other_org = await create_org(session, "Clinic B", mfa_required_for_admins=False)
    theirs = await open_chart(session, other_org)
    their_entry = await theirs.add("allergies", AllergyWrite(substance="Codeine"))
    await session.commit()
    session.expunge_all()  # as a new request: nothing of organization B in memory
    await scope_to_tenant(session, clinic.id)

    with pytest.raises(PatientNotFound):
        await c.entries("allergies", patient_id=theirs.patient.id)
    with pytest.raises(PatientNotFound):
        await c.remove("allergies", their_entry.id, version=1, patient_id=theirs.patient.id)
    with pytest.raises(ChartEntryNotFound):
        await c.update("allergies", their_entry.id, AllergyWrite(substance="Morphine"), version=1)


async def test_a_nurse_keeps_the_allergy_list_but_not_the_doctors_lists(
    session: AsyncSession, clinic: Organization
) -> None:
    """Allergies are taken at triage: a nurse's permissions add, change and remove them;
    the problems, medications and history stay the doctor's, refused at the use case
    whoever calls it, with nothing written."""
    c = await open_chart(session, clinic)
    nurse = Actor(
        kind=ActorKind.STAFF,
        organization_id=clinic.id,
        user_id=(await create_user(session, clinic, Role.NURSE)).id,
        permissions=frozenset(
            {Permission.PATIENTS_READ, Permission.CLINICAL_READ, Permission.ALLERGIES_WRITE}
        ),
    )
    allergy = await c.add("allergies", AllergyWrite(substance="Latex"), actor=nurse)
    assert allergy.recorded_by_id == nurse.user_id
    for kind in KINDS[1:]:
        with pytest.raises(Forbidden):
            await c.add(kind.name, kind.first, actor=nurse)
        assert await c.entries(kind.name) == []
    reader = Actor(
        kind=ActorKind.STAFF,
        organization_id=clinic.id,
        user_id=nurse.user_id,
        permissions=frozenset({Permission.PATIENTS_READ, Permission.CLINICAL_READ}),
    )
    with pytest.raises(Forbidden):
        await chart.remove_entry(
            session,
            actor=reader,
            patient_id=c.patient.id,
            kind="allergies",
            entry_id=allergy.id,
            expected_version=allergy.version,
        )
    await chart.remove_entry(
        session,
        actor=nurse,
        patient_id=c.patient.id,
        kind="allergies",
        entry_id=allergy.id,
        expected_version=allergy.version,
    )
    assert await c.entries("allergies") == []
