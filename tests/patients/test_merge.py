"""Patient merge at the service level, on SQLite and PostgreSQL: every domain moves its
own rows through ``patient_merged``, with an audit entry on each moved record; no table
that points at ``patients`` is forgotten; a failing handler rolls the whole merge back."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.models import utcnow
from clinicdesk.core.permissions import Permission
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.service import users
from clinicdesk.models import metadata
from clinicdesk.patients.models import Allergy, Patient, PatientNameTerm
from clinicdesk.patients.schemas import AllergyWrite
from clinicdesk.patients.service import chart, merge
from clinicdesk.patients.signals import PatientMerged, patient_merged
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import AppointmentCheckIn
from clinicdesk.queue.service import checkin
from clinicdesk.scheduling.models import Appointment, WaitlistEntry
from clinicdesk.scheduling.series_schemas import WaitlistWrite
from clinicdesk.scheduling.service import waitlist
from tests.support.queue import QueueClinic, book_today, make_queue_clinic


def _desk(qc: QueueClinic) -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["desk"],
        # Recording the allergy the merge moves takes the allergy list's permission.
        permissions=frozenset(
            {Permission.PATIENTS_WRITE, Permission.SCHEDULING_WRITE, Permission.ALLERGIES_WRITE}
        ),
    )


def _tables_pointing_at_patients() -> set[str]:
    return {
        table.name
        for table in metadata.sorted_tables
        for column in table.columns
        if any(fk.column.table.name == Patient.__tablename__ for fk in column.foreign_keys)
    }


async def test_every_table_pointing_at_patients_is_looked_after_by_the_merge(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=2)
    merged = await merge.merge_patients(
        session,
        actor=_desk(qc),
        keep_id=qc.patient_ids[0],
        duplicate_id=qc.patient_ids[1],
        reason="same person",
    )
    # The patients table's own pointers (merged_into_id) and the search index are the
    # merge's own business; every other table needs a domain that moves its rows.
    expected = _tables_pointing_at_patients() - {
        Patient.__tablename__,
        PatientNameTerm.__tablename__,
    }
    forgotten = expected - merged.tables_checked
    assert not forgotten, f"no patient_merged handler moves the rows of {sorted(forgotten)}"
    assert merged.moved == {}


async def test_merge_moves_each_domains_rows_and_audits_every_moved_record(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=2)
    keep_id, duplicate_id = qc.patient_ids
    actor = _desk(qc)
    appointment_id = await book_today(session, qc, duplicate_id, minutes_from_now=5)
    visit, _secret = await checkin.check_in_appointment(
        session, actor=actor, data=AppointmentCheckIn(appointment_id=appointment_id)
    )
    today = utcnow().date()
    entry = await waitlist.add_entry(
        session,
        actor=actor,
        data=WaitlistWrite(
            patient_id=duplicate_id,
            type_id=qc.consultation_id,
            location_id=qc.location_id,
            earliest=today + timedelta(days=1),
            latest=today + timedelta(days=9),
        ),
    )
    allergy = await chart.add_entry(
        session,
        actor=actor,
        patient_id=duplicate_id,
        kind="allergies",
        data=AllergyWrite(substance="Penicillin"),
    )
    portal = await users.create_user(
        session,
        actor=actor,
        organization_id=qc.organization_id,
        email=f"portal-{uuid.uuid4().hex[:6]}@example.org",
        full_name="Portal Person",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=duplicate_id,
    )
    await session.commit()
    # merge_patients expires the identity map: keep plain ids.
    visit_id, entry_id, allergy_id, portal_id = visit.id, entry.id, allergy.id, portal.id
    appointment_version = (await session.get_one(Appointment, appointment_id)).version

    merged = await merge.merge_patients(
        session, actor=actor, keep_id=keep_id, duplicate_id=duplicate_id, reason="same person"
    )
    await session.commit()

    assert merged.moved == {
        "appointments": 1,
        "visits": 1,
        "waitlist_entries": 1,
        "patient_allergies": 1,
        "users": 1,
    }
    session.expire_all()
    appointment = await session.get_one(Appointment, appointment_id)
    assert appointment.patient_id == keep_id
    # A form opened on the appointment before the merge is now stale.
    assert appointment.version == appointment_version + 1
    assert (await session.get_one(Visit, visit_id)).patient_id == keep_id
    assert (await session.get_one(WaitlistEntry, entry_id)).patient_id == keep_id
    assert (await session.get_one(Allergy, allergy_id)).patient_id == keep_id
    assert (await session.get_one(User, portal_id)).patient_id == keep_id

    entries = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action.like("%.moved_by_merge")))
    ).all()
    by_resource = {(e.resource_type, e.resource_id): e for e in entries}
    assert set(by_resource) == {
        ("appointment", str(appointment_id)),
        ("visit", str(visit_id)),
        ("waitlist_entry", str(entry_id)),
        ("allergy", str(allergy_id)),
        ("user", str(portal_id)),
    }
    for event in entries:
        assert event.patient_id == keep_id
        assert event.changes == {"patient_id": {"before": str(duplicate_id), "after": str(keep_id)}}
        assert event.details == {"reason": "same person"}
    duplicate = await session.get_one(Patient, duplicate_id)
    assert duplicate.merged_into_id == keep_id


async def test_a_failing_handler_rolls_the_whole_merge_back(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=2)
    keep_id, duplicate_id = qc.patient_ids
    actor = _desk(qc)
    allergy = await chart.add_entry(
        session,
        actor=actor,
        patient_id=duplicate_id,
        kind="allergies",
        data=AllergyWrite(substance="Latex"),
    )
    await session.commit()
    allergy_id = allergy.id

    async def refuse(_session: AsyncSession, _merge: PatientMerged) -> Mapping[str, int]:
        raise RuntimeError("this domain cannot move its rows")

    patient_merged.connect(refuse)
    try:
        with pytest.raises(RuntimeError, match="cannot move"):
            async with session.begin_nested():
                await merge.merge_patients(
                    session, actor=actor, keep_id=keep_id, duplicate_id=duplicate_id, reason="x"
                )
    finally:
        patient_merged.disconnect(refuse)

    session.expire_all()
    assert (await session.get_one(Allergy, allergy_id)).patient_id == duplicate_id
    assert (await session.get_one(Patient, duplicate_id)).merged_into_id is None
    moved_entries = await session.scalar(
        select(AuditEvent.id).where(AuditEvent.action.like("%.moved_by_merge")).limit(1)
    )
    assert moved_entries is None
