"""Recalls (planned follow-ups), on SQLite and PostgreSQL: planned from a consultation
("in 6 months for a check-up") or on a date, listed, cancelled with a reason, all
audited; who may; the consultation's "Follow-up" section; a merge moves them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Recall
from clinicdesk.clinical.service.recalls import add_months, local_today
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.patients.service import merge
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

HX = {"HX-Request": "true"}


async def _open(doctor: httpx.AsyncClient, patient_id: uuid.UUID) -> str:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient_id), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def _today(session: AsyncSession, qc: QueueClinic) -> date:
    await scope_to_tenant(session, qc.organization_id)
    return await local_today(session)


def test_months_end_on_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)
    assert add_months(date(2026, 1, 31), 12) == date(2027, 1, 31)


async def test_a_recall_is_planned_listed_and_cancelled_with_audit(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    patient_id = qc.patient_ids[0]
    encounter_id = await _open(doctor, patient_id)
    today = await _today(session, qc)
    url = f"/api/v1/patients/{patient_id}/recalls"

    planned = await doctor.post(
        url,
        json={
            "encounter_id": encounter_id,
            "in_count": 6,
            "in_unit": "months",
            "type_id": str(qc.checkup_id),
            "note": "Check HbA1c",
        },
    )
    assert planned.status_code == 201, planned.text
    recall = planned.json()
    assert recall["due_on"] == add_months(today, 6).isoformat()
    assert (recall["status"], recall["encounter_id"], recall["type_id"]) == (
        "open",
        encounter_id,
        str(qc.checkup_id),
    )
    on_a_day = await doctor.post(url, json={"due_on": (today + timedelta(weeks=3)).isoformat()})
    assert on_a_day.status_code == 201, on_a_day.text
    weeks = await doctor.post(url, json={"in_count": 2, "in_unit": "weeks"})
    assert weeks.json()["due_on"] == (today + timedelta(weeks=2)).isoformat()

    refused = [
        {},  # when?
        {"in_count": 6},
        {"due_on": today.isoformat(), "in_count": 1, "in_unit": "weeks"},
        {"due_on": (today - timedelta(days=1)).isoformat()},
        {"in_count": 1, "in_unit": "weeks", "encounter_id": str(uuid.uuid4())},
    ]
    for body in refused:
        answer = await doctor.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)

    listed = (await doctor.get(url)).json()
    assert [r["due_on"] for r in listed] == sorted(r["due_on"] for r in listed)
    assert len(listed) == 3

    cancel_url = f"/api/v1/recalls/{recall['id']}/cancel"
    assert (await doctor.post(cancel_url, json={"reason": "x"})).status_code in (422, 428)
    cancelled = await doctor.post(
        cancel_url, json={"reason": "Seen elsewhere"}, headers={"If-Match": 'W/"1"'}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        "cancelled",
        "Seen elsewhere",
    )
    again = await doctor.post(
        cancel_url, json={"reason": "Seen elsewhere"}, headers={"If-Match": "*"}
    )
    assert again.status_code == 409
    still_open = (await doctor.get(url, params={"open_only": "true"})).json()
    assert recall["id"] not in {r["id"] for r in still_open} and len(still_open) == 2

    actions = list(
        await session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.resource_type == "recall", AuditEvent.resource_id == recall["id"]
            )
        )
    )
    assert sorted(actions) == ["recall.added", "recall.cancelled"]
    reads = await session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.patient_id == patient_id, AuditEvent.details["view"].as_string() == "recalls"
        )
    )
    assert reads is not None


async def test_the_front_desk_can_neither_plan_nor_read_recalls(
    people: People, qc: QueueClinic
) -> None:
    desk = await people.api("desk")
    url = f"/api/v1/patients/{qc.patient_ids[1]}/recalls"
    assert (await desk.post(url, json={"in_count": 6, "in_unit": "months"})).status_code == 403
    assert (await desk.get(url)).status_code == 403
    doctor = await people.api("doctor")
    made = await doctor.post(url, json={"in_count": 6, "in_unit": "months"})
    cancel = await desk.post(
        f"/api/v1/recalls/{made.json()['id']}/cancel",
        json={"reason": "not needed"},
        headers={"If-Match": "*"},
    )
    assert cancel.status_code == 403


async def test_the_follow_up_section_plans_and_cancels(people: People, qc: QueueClinic) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _open(doctor, qc.patient_ids[2])
    web = await people.web("doctor")

    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200
    assert 'id="section-recalls"' in page.text and "No follow-up planned." in page.text

    added = await web.post(
        f"/encounters/{encounter_id}/recalls",
        data={
            "in_count": "6",
            "in_unit": "months",
            "type_id": str(qc.checkup_id),
            "note": "Repeat <b>lipids</b>",
        },
        headers=HX,
    )
    assert added.status_code == 200
    assert "Recall planned." in added.text and "planned here" in added.text
    assert "Repeat &lt;b&gt;lipids&lt;/b&gt;" in added.text  # escaped
    refused = await web.post(
        f"/encounters/{encounter_id}/recalls", data={"in_unit": "months"}, headers=HX
    )
    assert "Not saved:" in refused.text

    (recall,) = (await doctor.get(f"/api/v1/patients/{qc.patient_ids[2]}/recalls")).json()
    cancel_url = f"/encounters/{encounter_id}/recalls/{recall['id']}/cancel"
    stale = await web.post(
        cancel_url, data={"reason": "No longer needed", "version": "7"}, headers=HX
    )
    assert "Not saved:" in stale.text
    cancelled = await web.post(
        cancel_url, data={"reason": "No longer needed", "version": "1"}, headers=HX
    )
    assert "Recall cancelled." in cancelled.text and "No follow-up planned." in cancelled.text

    # A recall of another patient is not cancelled through this consultation.
    other = await doctor.post(
        f"/api/v1/patients/{qc.patient_ids[3]}/recalls", json={"in_count": 1, "in_unit": "weeks"}
    )
    elsewhere = await web.post(
        f"/encounters/{encounter_id}/recalls/{other.json()['id']}/cancel",
        data={"reason": "No longer needed", "version": "1"},
        headers=HX,
    )
    assert "Not saved:" in elsewhere.text
    assert (await doctor.get(f"/api/v1/patients/{qc.patient_ids[3]}/recalls")).json()[0][
        "status"
    ] == "open"


async def test_a_merge_moves_the_duplicates_recalls(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    keep_id, duplicate_id = qc.patient_ids[4], qc.patient_ids[5]
    doctor = await people.api("doctor")
    made = await doctor.post(
        f"/api/v1/patients/{duplicate_id}/recalls", json={"in_count": 6, "in_unit": "months"}
    )
    recall_id = uuid.UUID(made.json()["id"])
    actor = Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["desk"],
        permissions=frozenset({Permission.PATIENTS_WRITE}),
    )
    await scope_to_tenant(session, qc.organization_id)
    merged = await merge.merge_patients(
        session, actor=actor, keep_id=keep_id, duplicate_id=duplicate_id, reason="same person"
    )
    await session.commit()
    assert merged.moved.get("recalls") == 1
    session.expire_all()
    assert (await session.get_one(Recall, recall_id)).patient_id == keep_id
    moved = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "recall.moved_by_merge", AuditEvent.resource_id == str(recall_id)
        )
    )
    assert moved is not None and moved.patient_id == keep_id
