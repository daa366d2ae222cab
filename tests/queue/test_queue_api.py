"""The queue through the API on SQLite and PostgreSQL: check-in and tokens, the visit
flow with its timeline and audit trail, priorities and moves, provider status, the
patient's status link, displays, and who may do what."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.queue.models import VisitStepRecord
from tests.queue.conftest import Staff
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic, book_today


def provider_queue(board: dict[str, Any], provider_id: uuid.UUID | str) -> dict[str, Any]:
    """The queue of one provider on a board answer."""
    return next(
        q
        for q in board["queues"]
        if q["provider"] and q["provider"]["provider_id"] == str(provider_id)
    )


async def _board(client: httpx.AsyncClient, qc: QueueClinic) -> dict[str, Any]:
    answer = await client.get("/api/v1/queue/board", params={"location_id": str(qc.location_id)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _check_in(client: httpx.AsyncClient, appointment_id: uuid.UUID) -> dict[str, object]:
    answer = await client.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(appointment_id)}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _walk_in(
    client: httpx.AsyncClient, qc: QueueClinic, patient: int, **extra: object
) -> dict[str, object]:
    answer = await client.post(
        "/api/v1/queue/walk-ins",
        json={
            "patient_id": str(qc.patient_ids[patient]),
            "location_id": str(qc.location_id),
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_check_in_gives_the_days_tokens_and_marks_the_appointment_arrived(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk = await staff.as_("desk")
    first = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=10)
    second = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=5)
    a = await _check_in(desk, first)
    b = await _check_in(desk, second)
    assert (a["token"], b["token"]) == ("M-001", "M-002")
    assert a["status"] == "waiting"
    assert str(a["status_link"]).startswith("http://testserver/v/")
    appointment = await desk.get(f"/api/v1/appointments/{first}")
    assert appointment.json()["status"] == "arrived"
    # Ordered by appointment time, not arrival: the 5-minutes-from-now booking is first.
    board = await _board(desk, qc)
    ada = provider_queue(board, qc.provider_id)
    assert [v["token"] for v in ada["visits"]] == ["M-002", "M-001"]
    assert [v["position"] for v in ada["visits"]] == [1, 2]
    waits = [v["estimated_wait_minutes"] for v in ada["visits"]]
    assert waits[0] == 0 and waits[1] >= 10, waits

    again = await desk.post("/api/v1/queue/check-ins", json={"appointment_id": str(first)})
    assert again.status_code == 409
    assert "already checked in as M-001" in again.json()["detail"]
    # The same patient cannot also join as a walk-in while their visit is open.
    double = await desk.post(
        "/api/v1/queue/walk-ins",
        json={"patient_id": str(qc.patient_ids[0]), "location_id": str(qc.location_id)},
    )
    assert double.status_code == 409


async def test_appointment_on_another_day_is_refused_with_the_reason(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk = await staff.as_("desk")
    tomorrow = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=24 * 60)
    answer = await desk.post("/api/v1/queue/check-ins", json={"appointment_id": str(tomorrow)})
    assert answer.status_code == 409
    assert "not today" in answer.json()["detail"]
    unknown = await desk.post("/api/v1/queue/check-ins", json={"appointment_id": str(uuid.uuid4())})
    assert unknown.status_code == 404


async def test_whole_visit_flow_is_timestamped_audited_and_sets_provider_status(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk, doctor = await staff.as_("desk"), await staff.as_("doctor")
    appointment = await book_today(session, qc, qc.patient_ids[0])
    visit = await _check_in(desk, appointment)
    called = await doctor.post(
        "/api/v1/queue/call-next", json={"location_id": str(qc.location_id), "room": "Room 3"}
    )
    assert called.status_code == 200, called.text
    assert (called.json()["id"], called.json()["status"], called.json()["room"]) == (
        visit["id"],
        "called",
        "Room 3",
    )
    started = await doctor.post(f"/api/v1/queue/visits/{visit['id']}/start", headers=ANY_VERSION)
    assert started.json()["status"] == "in_consultation"
    board = await _board(desk, qc)
    ada = provider_queue(board, qc.provider_id)
    assert ada["provider"]["state"] == "in_consultation"
    # One patient at a time.
    other = await _walk_in(desk, qc, 1, provider_id=str(qc.provider_id))
    busy = await doctor.post(f"/api/v1/queue/visits/{other['id']}/start", headers=ANY_VERSION)
    assert busy.status_code == 409
    assert "still in consultation with M-001" in busy.json()["detail"]

    finished = await doctor.post(f"/api/v1/queue/visits/{visit['id']}/finish", headers=ANY_VERSION)
    assert finished.status_code == 200
    body = finished.json()
    assert body["status"] == "done"
    assert body["arrived_at"] <= body["called_at"] <= body["started_at"] <= body["finished_at"]
    assert (await desk.get(f"/api/v1/appointments/{appointment}")).json()["status"] == "fulfilled"
    board = await _board(desk, qc)
    ada = provider_queue(board, qc.provider_id)
    assert ada["provider"]["state"] == "available"
    assert board["done_today"] == 1

    await scope_to_tenant(session, qc.organization_id)
    steps = (
        await session.scalars(
            select(VisitStepRecord.step)
            .where(VisitStepRecord.visit_id == uuid.UUID(str(visit["id"])))
            .order_by(VisitStepRecord.at)
        )
    ).all()
    assert list(steps) == ["checked_in", "called", "started", "finished"]
    audited = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.actor_user_id).where(
                AuditEvent.resource_id == str(visit["id"])
            )
        )
    ).all()
    who = {row[0]: row[1] for row in audited}
    assert who["visit.checked_in"] == qc.user_ids["desk"]
    assert (
        who["visit.called"]
        == who["visit.started"]
        == who["visit.finished"]
        == qc.user_ids["doctor"]
    )


async def test_walk_ins_wait_unassigned_until_a_provider_calls_next(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk, doctor = await staff.as_("desk"), await staff.as_("doctor")
    walk_in = await _walk_in(desk, qc, 2, note="sore throat")
    assert walk_in["provider_id"] is None and walk_in["position"] == 1
    booked = await _check_in(desk, await book_today(session, qc, qc.patient_ids[3]))
    # The doctor's own queue first, then the unassigned walk-ins.
    first = await doctor.post("/api/v1/queue/call-next", json={"location_id": str(qc.location_id)})
    assert first.json()["id"] == booked["id"]
    await doctor.post(f"/api/v1/queue/visits/{booked['id']}/start", headers=ANY_VERSION)
    await doctor.post(f"/api/v1/queue/visits/{booked['id']}/finish", headers=ANY_VERSION)
    second = await doctor.post("/api/v1/queue/call-next", json={"location_id": str(qc.location_id)})
    assert second.json()["id"] == walk_in["id"]
    assert second.json()["provider_id"] == str(qc.provider_id)
    # An urgent walk-in nobody has taken goes before the doctor's own queue.
    await _check_in(desk, await book_today(session, qc, qc.patient_ids[4]))
    urgent = await _walk_in(desk, qc, 5, priority=2, priority_reason="short of breath")
    await doctor.post(f"/api/v1/queue/visits/{second.json()['id']}/start", headers=ANY_VERSION)
    await doctor.post(f"/api/v1/queue/visits/{second.json()['id']}/finish", headers=ANY_VERSION)
    third = await doctor.post("/api/v1/queue/call-next", json={"location_id": str(qc.location_id)})
    assert third.json()["id"] == urgent["id"]
    await doctor.post(f"/api/v1/queue/visits/{urgent['id']}/leave", json={}, headers=ANY_VERSION)
    fourth = await doctor.post("/api/v1/queue/call-next", json={"location_id": str(qc.location_id)})
    await doctor.post(
        f"/api/v1/queue/visits/{fourth.json()['id']}/leave", json={}, headers=ANY_VERSION
    )
    empty = await doctor.post("/api/v1/queue/call-next", json={"location_id": str(qc.location_id)})
    assert empty.status_code == 409
    assert "Nobody is waiting" in empty.json()["detail"]


async def test_priority_needs_a_reason_and_goes_first_moves_stay_within_a_priority(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk = await staff.as_("desk")
    ada = str(qc.provider_id)
    visits = [await _walk_in(desk, qc, n, provider_id=ada) for n in range(3)]
    no_reason = await desk.post(
        f"/api/v1/queue/visits/{visits[2]['id']}/priority",
        json={"priority": 2},
        headers=ANY_VERSION,
    )
    assert no_reason.status_code == 422
    urgent = await desk.post(
        f"/api/v1/queue/visits/{visits[2]['id']}/priority",
        json={"priority": 2, "reason": "chest pain"},
        headers=ANY_VERSION,
    )
    assert urgent.status_code == 200, urgent.text

    async def order() -> list[str]:
        queue = provider_queue(await _board(desk, qc), ada)
        return [v["token"] for v in queue["visits"]]

    assert await order() == ["M-003", "M-001", "M-002"]
    down = await desk.post(
        f"/api/v1/queue/visits/{visits[0]['id']}/move",
        json={"direction": "down"},
        headers=ANY_VERSION,
    )
    assert down.status_code == 200, down.text
    assert await order() == ["M-003", "M-002", "M-001"]
    past_urgent = await desk.post(
        f"/api/v1/queue/visits/{visits[1]['id']}/move",
        json={"direction": "up"},
        headers=ANY_VERSION,
    )
    assert past_urgent.status_code == 409
    assert "priority" in past_urgent.json()["detail"]
    bad = await desk.post(
        f"/api/v1/queue/visits/{visits[1]['id']}/move",
        json={"direction": "sideways"},
        headers=ANY_VERSION,
    )
    assert bad.status_code == 422


async def test_left_transfer_and_back_to_waiting(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk, doctor = await staff.as_("desk"), await staff.as_("doctor")
    appointment = await book_today(session, qc, qc.patient_ids[0])
    visit = await _check_in(desk, appointment)
    moved = await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/transfer",
        json={"provider_id": str(qc.other_provider_id), "reason": "Dr. Ada is running late"},
        headers=ANY_VERSION,
    )
    assert moved.json()["provider_id"] == str(qc.other_provider_id)
    assert moved.json()["status"] == "waiting"
    same = await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/transfer",
        json={"provider_id": str(qc.other_provider_id)},
        headers=ANY_VERSION,
    )
    assert same.status_code == 409
    await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/call", json={"room": "Room 2"}, headers=ANY_VERSION
    )
    back = await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/return",
        json={"reason": "not there"},
        headers=ANY_VERSION,
    )
    assert back.json()["status"] == "waiting" and back.json()["room"] is None
    left = await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/leave",
        json={"reason": "could not wait"},
        headers=ANY_VERSION,
    )
    assert left.json()["status"] == "left"
    assert (await desk.get(f"/api/v1/appointments/{appointment}")).json()["status"] == "noshow"
    # A finished visit does not move any more; the message says where it is.
    late = await doctor.post(f"/api/v1/queue/visits/{visit['id']}/start", headers=ANY_VERSION)
    assert late.status_code == 409
    assert "M-001 is left" in late.json()["detail"]


async def test_stale_version_is_refused(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk = await staff.as_("desk")
    visit = await _walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    answer = await desk.post(
        f"/api/v1/queue/visits/{visit['id']}/call",
        json={"room": "Room 1"},
        headers={"If-Match": 'W/"99"'},
    )
    assert answer.status_code == 412


async def test_provider_status_with_eta_shows_on_the_board_and_lengthens_waits(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    desk = await staff.as_("desk")
    await _walk_in(desk, qc, 0, provider_id=str(qc.provider_id))

    def ada(board: dict[str, Any]) -> dict[str, Any]:
        return provider_queue(board, qc.provider_id)

    before = ada(await _board(desk, qc))
    answer = await desk.put(
        f"/api/v1/providers/{qc.provider_id}/status",
        json={"state": "in_transit", "eta_minutes": 25, "note": "traffic"},
        headers={"If-Match": 'W/"0"'},  # no status set yet
    )
    assert answer.status_code == 200, answer.text
    after = ada(await _board(desk, qc))
    assert after["provider"]["state"] == "in_transit"
    assert after["provider"]["eta_at"] is not None
    assert (
        after["visits"][0]["estimated_wait_minutes"]
        >= before["visits"][0]["estimated_wait_minutes"] + 20
    )
    bad = await desk.put(
        f"/api/v1/providers/{qc.provider_id}/status",
        json={"state": "asleep"},
        headers={"If-Match": answer.headers["etag"]},
    )
    assert bad.status_code == 422


async def test_patient_status_link_shows_only_their_place(
    session: AsyncSession, qc: QueueClinic, staff: Staff, client: httpx.AsyncClient
) -> None:
    desk = await staff.as_("desk")
    await _walk_in(desk, qc, 0, provider_id=str(qc.provider_id))
    mine = await _walk_in(desk, qc, 1, provider_id=str(qc.provider_id))
    secret = str(mine["status_link"]).rsplit("/", 1)[1]
    status = await client.get(f"/api/v1/queue/status/{secret}")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["token"] == "M-002" and body["position"] == 2
    assert body["provider"] == "Dr. Ada" and body["location"] == "Main Street"
    assert set(body) == {
        "token",
        "status",
        "location",
        "provider",
        "room",
        "position",
        "estimated_wait_minutes",
        "text_when_near",
    }
    assert (await client.get(f"/api/v1/queue/status/{'x' * 43}")).status_code == 404
    # A new link revokes the old one.
    renewed = await desk.post(f"/api/v1/queue/visits/{mine['id']}/status-link")
    assert renewed.status_code == 200
    assert (await client.get(f"/api/v1/queue/status/{secret}")).status_code == 404


async def test_displays_are_admin_managed_and_revocable(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    # The front desk manages displays too (queue:displays); a doctor does not.
    admin, doctor = await staff.as_("admin"), await staff.as_("doctor")
    refused = await doctor.post(
        "/api/v1/queue/displays", json={"location_id": str(qc.location_id), "name": "TV"}
    )
    assert refused.status_code == 403
    created = await admin.post(
        "/api/v1/queue/displays",
        json={"location_id": str(qc.location_id), "name": "Waiting room TV"},
    )
    assert created.status_code == 201, created.text
    assert "/display/" in created.json()["link"]
    tricked = await admin.post(
        "/api/v1/queue/displays",
        json={"location_id": str(qc.location_id), "name": "TV\u202e"},
    )
    assert tricked.status_code == 422
    listed = (await admin.get("/api/v1/queue/displays")).json()
    assert [d["name"] for d in listed] == ["Waiting room TV"] and listed[0]["link"] is None
    revoked = await admin.post(f"/api/v1/queue/displays/{created.json()['id']}/revoke")
    assert revoked.json()["active"] is False


async def test_who_may_see_and_move_the_queue(
    session: AsyncSession, clinic: Organization, qc: QueueClinic, staff: Staff, sign_in_api: SignIn
) -> None:
    admin = await staff.as_("admin")
    billing = await sign_in_api(await create_user(session, clinic, Role.BILLING))
    nurse = await sign_in_api(await create_user(session, clinic, Role.NURSE))
    params = {"location_id": str(qc.location_id)}
    assert (await admin.get("/api/v1/queue/board", params=params)).status_code == 200
    assert (await billing.get("/api/v1/queue/board", params=params)).status_code == 403
    walk_in = {"patient_id": str(qc.patient_ids[0]), "location_id": str(qc.location_id)}
    assert (await admin.post("/api/v1/queue/walk-ins", json=walk_in)).status_code == 403
    assert (await nurse.post("/api/v1/queue/walk-ins", json=walk_in)).status_code == 201
