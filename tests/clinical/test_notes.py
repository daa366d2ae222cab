"""Notes, on SQLite and PostgreSQL: a draft saves as typed (idempotent, a stale save
refused), signing locks it for good (refused at the service, and under it), addenda and
amendments are appended and shown, co-signature, templates, every version in the
history, and finishing waits for the note."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.errors import NoteLocked, NoteStepRefused
from clinicdesk.clinical.models import ClinicalNote, Encounter
from clinicdesk.clinical.models.notes import SignedNoteChanged
from clinicdesk.clinical.schemas.notes import NoteCreate, NoteDraft
from clinicdesk.clinical.service import notes
from clinicdesk.clinical.vocabulary import EncounterStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.identity.models import User
from clinicdesk.identity.service.common import actor_for
from clinicdesk.queue.models import Visit
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic, book_today


async def _actor(session: AsyncSession, qc: QueueClinic, who: str = "doctor") -> Actor:
    return actor_for(await session.get_one(User, qc.user_ids[who]))


async def _phone_encounter(people: People, qc: QueueClinic, patient: int = 1) -> str:
    doctor = await people.api("doctor")
    opened = await doctor.post(
        "/api/v1/encounters",
        json={"patient_id": str(qc.patient_ids[patient]), "kind": "phone", "reason": "Call"},
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def test_a_signed_note_is_never_changed_in_place(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    encounter_id = uuid.UUID(await _phone_encounter(people, qc))
    doctor = await _actor(session, qc)
    note = await notes.create_note(
        session, actor=doctor, encounter_id=encounter_id, data=NoteCreate(subjective="Cough")
    )
    await notes.sign_note(session, actor=doctor, note_id=note.id, expected_version=note.version)
    assert note.signed and note.signed_by_id == doctor.user_id

    # Through the service: refused (409), whatever version is sent, and nothing changed.
    with pytest.raises(NoteLocked) as refused:
        await notes.save_draft(
            session,
            actor=doctor,
            note_id=note.id,
            data=NoteDraft(subjective="Rewritten"),
            expected_version=None,
        )
    assert refused.value.status_code == 409
    assert "addendum" in refused.value.detail
    with pytest.raises(NoteLocked):
        await notes.sign_note(session, actor=doctor, note_id=note.id, expected_version=None)
    await session.refresh(note)
    assert note.subjective == "Cough"

    # Under the service: the model refuses a change to a signed note's text on flush.
    note.subjective = "Quietly rewritten"
    with pytest.raises(SignedNoteChanged):
        await session.flush()
    await session.rollback()


async def test_the_api_writes_signs_and_appends_and_every_version_is_in_the_history(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    encounter_id = await _phone_encounter(people, qc)
    doctor = await people.api("doctor")
    created = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/notes",
        json={"subjective": "Sore throat"},
        headers={"Idempotency-Key": "n1"},
    )
    assert created.status_code == 201, created.text
    note_id = created.json()["id"]
    again = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/notes",
        json={"subjective": "Sore throat"},
        headers={"Idempotency-Key": "n1"},
    )
    assert again.json()["id"] == note_id
    second_main = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/notes", json={"subjective": "x"}
    )
    assert second_main.status_code == 409
    assert second_main.json()["note_id"] == note_id

    saved = await doctor.patch(
        f"/api/v1/notes/{note_id}",
        json={"subjective": "Sore throat, 3 days", "plan": "Fluids"},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert saved.status_code == 200, saved.text
    signed = await doctor.post(
        f"/api/v1/notes/{note_id}/sign", headers={"If-Match": saved.headers["ETag"]}
    )
    assert signed.status_code == 200 and signed.json()["status"] == "signed"

    locked = await doctor.patch(
        f"/api/v1/notes/{note_id}", json={"subjective": "x"}, headers={"If-Match": "*"}
    )
    assert locked.status_code == 409
    assert locked.json()["type"].endswith("note-signed")

    amendment_without_reason = await doctor.post(
        f"/api/v1/notes/{note_id}/addenda", json={"kind": "amendment", "text": "5 days"}
    )
    assert amendment_without_reason.status_code == 422
    added = await doctor.post(f"/api/v1/notes/{note_id}/addenda", json={"text": "Swab sent."})
    amended = await doctor.post(
        f"/api/v1/notes/{note_id}/addenda",
        json={"kind": "amendment", "text": "5 days, not 3.", "reason": "Wrong duration"},
    )
    assert added.status_code == amended.status_code == 201, amended.text
    read = await doctor.get(f"/api/v1/notes/{note_id}")
    assert read.json()["subjective"] == "Sore throat, 3 days"  # the original stays
    assert [a["kind"] for a in read.json()["addenda"]] == ["addendum", "amendment"]
    assert read.json()["addenda"][1]["reason"] == "Wrong duration"

    history = await doctor.get(f"/api/v1/notes/{note_id}/history")
    versions = history.json()
    assert [v["action"] for v in versions] == [
        "note.created",
        "note.draft_saved",
        "note.signed",
        "note.addendum_added",
        "note.amended",
    ]
    assert versions[0]["texts"]["subjective"] == "Sore throat"
    assert versions[1]["texts"] == {
        "title": None,
        "subjective": "Sore throat, 3 days",
        "objective": None,
        "assessment": None,
        "plan": "Fluids",
        "body": None,
    }
    assert versions[2]["status"] == "signed"
    assert versions[4]["texts"]["reason"] == "Wrong duration"

    # The front desk reads no notes.
    desk = await people.api("desk")
    assert (await desk.get(f"/api/v1/notes/{note_id}")).status_code == 403


async def test_an_autosave_is_idempotent_and_a_stale_one_is_refused(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    encounter_id = uuid.UUID(await _phone_encounter(people, qc))
    doctor = await _actor(session, qc)
    note = await notes.save_main_draft(
        session,
        actor=doctor,
        encounter_id=encounter_id,
        data=NoteDraft(subjective="Tab one"),
        kind="soap",  # type: ignore[arg-type]
        expected_version=None,
    )
    assert note.version == 1
    # The same text again (a retried save, even on an old version) changes nothing.
    same = await notes.save_draft(
        session,
        actor=doctor,
        note_id=note.id,
        data=NoteDraft(subjective="Tab one"),
        expected_version=0,
    )
    assert same.version == 1
    # Tab two saves on version 1; tab one, still on version 1, is refused, not overwritten.
    await notes.save_draft(
        session,
        actor=doctor,
        note_id=note.id,
        data=NoteDraft(subjective="Tab two"),
        expected_version=1,
    )
    with pytest.raises(PreconditionFailed):
        await notes.save_draft(
            session,
            actor=doctor,
            note_id=note.id,
            data=NoteDraft(subjective="Tab one, more"),
            expected_version=1,
        )
    # A tab opened before the note existed sends no version: stale too.
    with pytest.raises(PreconditionFailed):
        await notes.save_main_draft(
            session,
            actor=doctor,
            encounter_id=encounter_id,
            data=NoteDraft(subjective="Tab three"),
            kind="soap",  # type: ignore[arg-type]
            expected_version=None,
        )
    assert note.subjective == "Tab two"
    saves = list(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == str(note.id))
        )
    )
    assert saves == ["note.created", "note.draft_saved"]

    # Another doctor cannot change or sign this draft.
    other = await _actor(session, qc, "other_doctor")
    with pytest.raises(NoteStepRefused):
        await notes.sign_note(session, actor=other, note_id=note.id, expected_version=None)


async def test_a_trainees_note_waits_for_its_named_cosigner(
    people: People, qc: QueueClinic
) -> None:
    encounter_id = await _phone_encounter(people, qc)
    trainee = await people.api("doctor")
    created = await trainee.post(
        f"/api/v1/encounters/{encounter_id}/notes",
        json={
            "kind": "free",
            "body": "Seen with supervisor.",
            "cosigner_id": str(qc.user_ids["other_doctor"]),
        },
    )
    note_id = created.json()["id"]
    early = await (await people.api("other_doctor")).post(
        f"/api/v1/notes/{note_id}/cosign", headers={"If-Match": "*"}
    )
    assert early.status_code == 409  # sign first
    signed = await trainee.post(f"/api/v1/notes/{note_id}/sign", headers={"If-Match": "*"})
    assert signed.json()["cosigned_at"] is None
    not_named = await trainee.post(f"/api/v1/notes/{note_id}/cosign", headers={"If-Match": "*"})
    assert not_named.status_code == 409
    supervisor = await people.api("other_doctor")
    cosigned = await supervisor.post(
        f"/api/v1/notes/{note_id}/cosign", headers={"If-Match": signed.headers["ETag"]}
    )
    assert cosigned.status_code == 200, cosigned.text
    assert cosigned.json()["cosigned_by_id"] == str(qc.user_ids["other_doctor"])
    assert cosigned.json()["body"] == "Seen with supervisor."


async def test_templates_fill_the_empty_fields_and_the_appointment_type_comes_first(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    general = await doctor.post(
        "/api/v1/note-templates", json={"name": "General", "plan": "Review in 2 weeks"}
    )
    for_checkup = await doctor.post(
        "/api/v1/note-templates",
        json={
            "name": "Check-up",
            "appointment_type_id": str(qc.checkup_id),
            "subjective": "No complaints.",
            "plan": "Annual review",
        },
    )
    assert general.status_code == for_checkup.status_code == 201, for_checkup.text
    bad_type = await doctor.post(
        "/api/v1/note-templates", json={"name": "X", "appointment_type_id": str(uuid.uuid4())}
    )
    assert bad_type.status_code == 422
    admin = await people.api("admin")
    assert (await admin.post("/api/v1/note-templates", json={"name": "A"})).status_code == 403

    # A consultation booked as a check-up is offered the check-up template first.
    from clinicdesk.clinical.service import note_templates

    appointment_id = await book_today(session, qc, qc.patient_ids[2], type_id=qc.checkup_id)
    opened = await doctor.post(
        "/api/v1/encounters",
        json={
            "patient_id": str(qc.patient_ids[2]),
            "appointment_id": str(appointment_id),
            "location_id": str(qc.location_id),
        },
    )
    encounter = await session.get_one(Encounter, uuid.UUID(opened.json()["id"]))
    offered = await note_templates.templates_for(session, encounter)
    assert [t.name for t in offered][:1] == ["Check-up"]

    created = await doctor.post(
        f"/api/v1/encounters/{encounter.id}/notes", json={"plan": "Bloods first"}
    )
    applied = await doctor.post(
        f"/api/v1/notes/{created.json()['id']}/template",
        json={"template_id": for_checkup.json()["id"]},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["subjective"] == "No complaints."
    assert applied.json()["plan"] == "Bloods first"  # what was written stays


async def test_a_visit_finished_with_a_draft_note_leaves_the_encounter_open(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    appointment_id = await book_today(session, qc, qc.patient_ids[0])
    doctor = await people.api("doctor")
    checked = await doctor.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(appointment_id)}
    )
    visit_id = checked.json()["id"]
    await doctor.post(
        f"/api/v1/queue/visits/{visit_id}/start", headers={"If-Match": checked.headers["ETag"]}
    )
    session.expire_all()
    encounter = await session.scalar(
        select(Encounter).where(Encounter.visit_id == uuid.UUID(visit_id))
    )
    assert encounter is not None
    created = await doctor.post(
        f"/api/v1/encounters/{encounter.id}/notes", json={"subjective": "Draft only"}
    )
    assert created.status_code == 201

    visit = await session.get_one(Visit, uuid.UUID(visit_id))
    finished = await doctor.post(
        f"/api/v1/queue/visits/{visit_id}/finish", headers={"If-Match": f'W/"{visit.version}"'}
    )
    assert finished.status_code == 200, finished.text
    encounter_id = encounter.id
    session.expire_all()
    encounter = await session.get_one(Encounter, encounter_id)
    assert encounter.status == EncounterStatus.IN_PROGRESS
    assert encounter.open_reason == "The note is not signed."
    refused = await doctor.post(
        f"/api/v1/encounters/{encounter.id}/finish", headers={"If-Match": "*"}
    )
    assert refused.status_code == 409
    assert refused.json()["undone"] == ["The note is not signed."]

    await doctor.post(f"/api/v1/notes/{created.json()['id']}/sign", headers={"If-Match": "*"})
    done = await doctor.post(f"/api/v1/encounters/{encounter.id}/finish", headers={"If-Match": "*"})
    assert done.status_code == 200 and done.json()["status"] == "finished"
    # Closed: no new draft, but an addendum still goes on.
    late = await doctor.post(f"/api/v1/encounters/{encounter.id}/notes", json={"main": False})
    assert late.status_code == 409
    addendum = await doctor.post(
        f"/api/v1/notes/{created.json()['id']}/addenda", json={"text": "Results normal."}
    )
    assert addendum.status_code == 201
    assert (
        await session.scalar(
            select(ClinicalNote.status).where(ClinicalNote.id == uuid.UUID(created.json()["id"]))
        )
        == "signed"
    )
