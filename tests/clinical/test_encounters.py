"""Encounters, on SQLite and PostgreSQL: the consultation follows the queue's visit,
opens ad hoc, finishes, cancels, and refuses writes once closed; the pages show it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.service import closing
from clinicdesk.clinical.vocabulary import EncounterStatus
from clinicdesk.queue.models import Visit
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic, book_today


async def _in_consultation(people: People, qc: QueueClinic, session: AsyncSession) -> str:
    """Check a booked patient in and start their consultation over the API; the visit id."""
    appointment_id = await book_today(session, qc, qc.patient_ids[0])
    doctor = await people.api("doctor")
    checked = await doctor.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(appointment_id)}
    )
    assert checked.status_code == 201, checked.text
    visit_id = checked.json()["id"]
    etag = checked.headers["ETag"]
    started = await doctor.post(
        f"/api/v1/queue/visits/{visit_id}/start", headers={"If-Match": etag}
    )
    assert started.status_code == 200, started.text
    return str(visit_id)


async def _encounter_of(session: AsyncSession, visit_id: str) -> Encounter:
    session.expire_all()
    found = await session.scalar(select(Encounter).where(Encounter.visit_id == uuid.UUID(visit_id)))
    assert found is not None
    return found


async def test_starting_the_visit_opens_its_encounter_and_finishing_it_finishes_it(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    visit_id = await _in_consultation(people, qc, session)
    encounter = await _encounter_of(session, visit_id)
    assert encounter.status == EncounterStatus.IN_PROGRESS
    assert encounter.provider_id == qc.provider_id
    assert encounter.patient_id == qc.patient_ids[0]
    assert encounter.location_id == qc.location_id
    assert encounter.appointment_id is not None

    doctor = await people.api("doctor")
    visit = await session.get_one(Visit, uuid.UUID(visit_id))
    finished = await doctor.post(
        f"/api/v1/queue/visits/{visit_id}/finish", headers={"If-Match": f'W/"{visit.version}"'}
    )
    assert finished.status_code == 200, finished.text
    encounter = await _encounter_of(session, visit_id)
    assert encounter.status == EncounterStatus.FINISHED
    assert encounter.finished_at is not None
    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == str(encounter.id))
        )
    )
    assert {"encounter.started", "encounter.finished"} <= actions


async def test_a_visit_finished_with_work_left_keeps_its_encounter_open_and_says_why(
    people: People, qc: QueueClinic, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    visit_id = await _in_consultation(people, qc, session)

    async def note_unsigned(_session: AsyncSession, _encounter: Encounter) -> list[str]:
        return ["The note is not signed."]

    monkeypatch.setattr(closing, "unfinished_work", note_unsigned)
    doctor = await people.api("doctor")
    visit = await session.get_one(Visit, uuid.UUID(visit_id))
    finished = await doctor.post(
        f"/api/v1/queue/visits/{visit_id}/finish", headers={"If-Match": f'W/"{visit.version}"'}
    )
    assert finished.status_code == 200, finished.text
    encounter = await _encounter_of(session, visit_id)
    assert encounter.status == EncounterStatus.IN_PROGRESS
    assert encounter.open_reason == "The note is not signed."

    # The doctor's home lists it; finishing it by hand is refused with the reason.
    home = await (await people.web("doctor")).get("/")
    assert f"/encounters/{encounter.id}" in home.text
    assert "The note is not signed." in home.text
    refused = await doctor.post(
        f"/api/v1/encounters/{encounter.id}/finish",
        headers={"If-Match": f'W/"{encounter.version}"'},
    )
    assert refused.status_code == 409
    assert refused.json()["undone"] == ["The note is not signed."]


async def test_an_ad_hoc_phone_consultation_opens_once_per_idempotency_key(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    body = {"patient_id": str(qc.patient_ids[1]), "kind": "phone", "reason": "Results call"}
    first = await doctor.post("/api/v1/encounters", json=body, headers={"Idempotency-Key": "k1"})
    again = await doctor.post("/api/v1/encounters", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotency-Replayed"] == "true"
    assert first.json()["location_id"] is None
    assert first.json()["status"] == "in-progress"

    listed = await doctor.get(f"/api/v1/patients/{qc.patient_ids[1]}/encounters")
    assert [e["id"] for e in listed.json()["items"]] == [first.json()["id"]]


async def test_in_person_needs_a_location_and_a_non_provider_cannot_open_one(
    people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    where = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(qc.patient_ids[1]), "kind": "in-person"}
    )
    assert where.status_code == 409
    assert "location" in where.json()["detail"]
    bad = await doctor.post("/api/v1/encounters", json={"patient_id": "nope", "kind": "phone"})
    assert bad.status_code == 422


async def test_a_closed_encounter_refuses_changes_and_cancel_keeps_the_record(
    people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    opened = await doctor.post(
        "/api/v1/encounters",
        json={
            "patient_id": str(qc.patient_ids[2]),
            "kind": "in-person",
            "location_id": str(qc.location_id),
        },
    )
    encounter_id, etag = opened.json()["id"], opened.headers["ETag"]
    stale = await doctor.patch(
        f"/api/v1/encounters/{encounter_id}", json={"reason": "x"}, headers={"If-Match": 'W/"99"'}
    )
    assert stale.status_code == 412
    changed = await doctor.patch(
        f"/api/v1/encounters/{encounter_id}", json={"reason": "Cough"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200 and changed.json()["reason"] == "Cough"
    finished = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/finish", headers={"If-Match": changed.headers["ETag"]}
    )
    assert finished.status_code == 200 and finished.json()["status"] == "finished"
    closed = await doctor.patch(
        f"/api/v1/encounters/{encounter_id}", json={"reason": "later"}, headers={"If-Match": "*"}
    )
    assert closed.status_code == 409
    assert closed.json()["type"].endswith("encounter-closed")
    not_cancel = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/cancel",
        json={"reason": "gone"},
        headers={"If-Match": "*"},
    )
    assert not_cancel.status_code == 409
    in_error = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/cancel",
        json={"reason": "Wrong patient", "entered_in_error": True},
        headers={"If-Match": "*"},
    )
    assert in_error.status_code == 200
    assert in_error.json()["status"] == "entered-in-error"
    read = await doctor.get(f"/api/v1/encounters/{encounter_id}")
    assert read.json()["cancel_reason"] == "Wrong patient"


async def test_the_doctor_goes_from_the_queue_to_the_consultation_page(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    appointment_id = await book_today(session, qc, qc.patient_ids[3])
    doctor_api = await people.api("doctor")
    checked = await doctor_api.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(appointment_id)}
    )
    visit_id = checked.json()["id"]
    web = await people.web("doctor")
    started = await web.post(
        f"/queue/visits/{visit_id}/start", data={"screen": "mine"}, headers={"HX-Request": "true"}
    )
    assert started.headers["HX-Redirect"] == f"/visits/{visit_id}/consultation"
    reached = await web.get(f"/visits/{visit_id}/consultation")
    assert reached.status_code == 303
    page = await web.get(reached.headers["location"])
    assert page.status_code == 200
    assert "Reason for visit" in page.text
    assert "Finish consultation" in page.text
    assert page.headers["Cache-Control"].startswith("no-store")

    # The reason saves as typed (htmx), and the chart lists the consultation.
    encounter = await _encounter_of(session, visit_id)
    saved = await web.post(
        f"/encounters/{encounter.id}/reason",
        data={"reason": "Sore throat", "version": str(encounter.version)},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    listed = await web.get(
        f"/patients/{qc.patient_ids[3]}/consultations", headers={"HX-Request": "true"}
    )
    assert "Sore throat" in listed.text and f"/encounters/{encounter.id}" in listed.text

    # The front desk sees no clinical data.
    desk = await people.web("desk")
    assert (await desk.get(f"/encounters/{encounter.id}")).status_code == 403


async def test_starting_from_the_chart_opens_an_ad_hoc_consultation(
    people: People, qc: QueueClinic
) -> None:
    web = await people.web("doctor")
    opened = await web.post(
        f"/patients/{qc.patient_ids[4]}/encounters", data={"kind": "video", "reason": "Follow-up"}
    )
    assert opened.status_code == 303
    assert opened.headers["location"].startswith("/encounters/")
    refused = await web.post(
        f"/patients/{qc.patient_ids[3]}/encounters", data={"kind": "in-person"}
    )
    assert refused.status_code == 303
    assert refused.headers["location"].endswith("#consultations")


async def test_a_second_ad_hoc_start_goes_on_with_the_open_consultation(
    people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    body = {"patient_id": str(qc.patient_ids[5]), "kind": "phone"}
    first = await doctor.post("/api/v1/encounters", json=body)
    second = await doctor.post("/api/v1/encounters", json={**body, "kind": "video"})
    assert first.json()["id"] == second.json()["id"]
    other = await people.api("other_doctor")
    theirs = await other.post("/api/v1/encounters", json=body)
    assert theirs.json()["id"] != first.json()["id"]


async def test_the_page_finishes_and_cancels_with_a_message(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    web = await people.web("doctor")
    opened = await web.post(f"/patients/{qc.patient_ids[2]}/encounters", data={"kind": "phone"})
    page_url = opened.headers["location"]
    encounter = await session.get_one(Encounter, uuid.UUID(page_url.rsplit("/", 1)[1]))
    short = await web.post(f"{page_url}/cancel", data={"reason": "x", "version": "1"})
    assert short.status_code == 303
    assert "at least 3 characters" in (await web.get(page_url)).text
    done = await web.post(f"{page_url}/finish", data={"version": str(encounter.version)})
    assert done.status_code == 303
    shown = await web.get(page_url)
    assert "Consultation finished." in shown.text
    assert "Finish consultation" not in shown.text  # closed: read-only


async def test_finishing_the_consultation_finishes_its_visit(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    visit_id = await _in_consultation(people, qc, session)
    encounter = await _encounter_of(session, visit_id)
    doctor = await people.api("doctor")
    finished = await doctor.post(
        f"/api/v1/encounters/{encounter.id}/finish",
        headers={"If-Match": f'W/"{encounter.version}"'},
    )
    assert finished.status_code == 200, finished.text
    assert finished.json()["status"] == "finished"
    session.expire_all()
    visit = await session.get_one(Visit, uuid.UUID(visit_id))
    assert visit.status == "done"
