"""Live events: who gets which event (the queue's and scheduling's rules, as the app
registers them; unit), and the real stream over HTTP from a
``clinicdesk serve`` process: a display sees only its location's tokens, a patient's link
only their own visit (and a content-free nudge when their queue moves), a reconnect with
``Last-Event-ID`` replays what was missed, and a revoked display cannot connect."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from clinicdesk.app import LIVE_PUBLISHERS
from clinicdesk.core.events import Event
from clinicdesk.core.live import Listener
from clinicdesk.core.permissions import Permission
from clinicdesk.queue.live import QUEUE_CHANGED, WAITING_AT
from clinicdesk.web.live import build_rules
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY
from tests.support.http import ANY_VERSION
from tests.support.identity import PASSWORD
from tests.support.queue import seed_queue_database
from tests.support.server import running_server
from tests.support.sse import open_stream

ORG, OTHER_ORG = uuid.uuid4(), uuid.uuid4()
HERE, THERE = uuid.uuid4(), uuid.uuid4()
ADA, BO = uuid.uuid4(), uuid.uuid4()
ME, SOMEONE = uuid.uuid4(), uuid.uuid4()
MY_VISIT = uuid.uuid4()

selector = build_rules(LIVE_PUBLISHERS).selector


def queue_event(
    kind: str = "queue.called",
    *,
    org: uuid.UUID = ORG,
    location: uuid.UUID = HERE,
    provider: uuid.UUID | None = ADA,
    patient: uuid.UUID = SOMEONE,
    visit: uuid.UUID | None = None,
) -> Event:
    return Event(
        organization_id=org,
        type=kind,
        data={
            "visit_id": str(visit or uuid.uuid4()),
            "location_id": str(location),
            "provider_id": str(provider) if provider else None,
            "patient_id": str(patient),
            "token": "M-007",
            "status": "called",
            "room": "Room 3",
        },
    )


def test_staff_get_their_organizations_events_if_they_may_read_the_schedule() -> None:
    desk = selector(
        Listener(
            organization_id=ORG, kind="staff", permissions=frozenset({Permission.SCHEDULING_READ})
        )
    )
    billing = selector(
        Listener(
            organization_id=ORG, kind="staff", permissions=frozenset({Permission.BILLING_READ})
        )
    )
    event = queue_event()
    assert desk(event) == ("queue.called", event.data)
    assert desk(queue_event(org=OTHER_ORG)) is None
    assert billing(queue_event()) is None
    # Only the known families of events; anything else is denied by default.
    assert desk(Event(organization_id=ORG, type="billing.invoice", data={})) is None


def test_a_display_gets_its_locations_tokens_and_rooms_only() -> None:
    display = selector(Listener(organization_id=ORG, kind="display", location_id=HERE))
    got = display(queue_event())
    assert got is not None
    kind, data = got
    assert kind == "queue.called"
    assert data == {
        "token": "M-007",
        "status": "called",
        "room": "Room 3",
        "provider_id": str(ADA),
        "location_id": str(HERE),
    }
    assert "patient_id" not in data and "visit_id" not in data
    assert display(queue_event(location=THERE)) is None
    assert display(queue_event(org=OTHER_ORG)) is None
    assert (
        display(
            Event(organization_id=ORG, type="appointment.booked", data={"location_id": str(HERE)})
        )
        is None
    )


def test_a_patient_link_gets_its_own_visit_and_a_bare_nudge_when_its_queue_moves() -> None:
    me = Listener(
        organization_id=ORG,
        kind="patient",
        patient_id=ME,
        visit_id=MY_VISIT,
        facts={WAITING_AT: {(HERE, ADA)}},
    )
    select = selector(me)
    own = select(queue_event(patient=ME, visit=MY_VISIT))
    assert own == (
        "queue.called",
        {"visit_id": str(MY_VISIT), "token": "M-007", "status": "called", "room": "Room 3"},
    )
    # Someone else in my queue was called: my position may change; nothing about them.
    assert select(queue_event(patient=SOMEONE)) == (QUEUE_CHANGED, {})
    # Another provider's queue, or the unassigned walk-ins, do not move mine.
    assert select(queue_event(provider=None)) is None
    assert select(queue_event(provider=BO)) is None
    assert select(queue_event(location=THERE)) is None
    assert select(queue_event(org=OTHER_ORG, patient=ME, visit=MY_VISIT)) is None
    # A walk-in nobody has taken yet waits for whoever is free first: every queue of the
    # location moves them.
    unassigned = selector(
        Listener(
            organization_id=ORG,
            kind="patient",
            patient_id=ME,
            facts={WAITING_AT: {(HERE, None)}},
        )
    )
    assert unassigned(queue_event(provider=BO)) == (QUEUE_CHANGED, {})
    status = Event(
        organization_id=ORG,
        type="provider.status",
        data={"provider_id": str(ADA), "state": "break"},
    )
    assert select(status) == (QUEUE_CHANGED, {})


def _env(url: str) -> dict[str, str]:
    return {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }


async def _bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_streams_over_http_are_scoped_and_replay_on_reconnect(
    migrated_database_url: str, tmp_path: Path
) -> None:
    qc = await seed_queue_database(migrated_database_url, patients=4)
    with running_server(tmp_path / "data", env=_env(migrated_database_url)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            desk = await _bearer(client, qc.desk_email)
            admin = await _bearer(client, qc.admin_email)
            anonymous = await client.get("/api/v1/events")
            assert anonymous.status_code == 401
            assert (
                await client.get("/api/v1/events", params={"display": "x" * 43})
            ).status_code == 404

            display = await client.post(
                "/api/v1/queue/displays",
                json={"location_id": str(qc.location_id), "name": "TV"},
                headers=admin,
            )
            secret = display.json()["link"].rsplit("/", 1)[1]
            first = await client.post(
                "/api/v1/queue/walk-ins",
                json={
                    "patient_id": str(qc.patient_ids[0]),
                    "location_id": str(qc.location_id),
                    "provider_id": str(qc.provider_id),
                },
                headers=desk,
            )
            link = first.json()["status_link"].rsplit("/", 1)[1]
            async with (
                open_stream(client, params={"display": secret}) as tv,
                open_stream(client, params={"visit": link}) as patient,
                open_stream(client, headers=desk) as staff,
            ):
                second = await client.post(
                    "/api/v1/queue/walk-ins",
                    json={
                        "patient_id": str(qc.patient_ids[1]),
                        "location_id": str(qc.location_id),
                        "provider_id": str(qc.provider_id),
                    },
                    headers=desk,
                )
                assert second.status_code == 201
                seen = await staff.next_of("queue.checked_in")
                assert seen.data["patient_id"] == str(qc.patient_ids[1])
                on_tv = await tv.next_of("queue.checked_in")
                assert on_tv.data == {
                    "token": "M-002",
                    "status": "waiting",
                    "room": None,
                    "provider_id": str(qc.provider_id),
                    "location_id": str(qc.location_id),
                }
                nudge = await patient.next_event()
                assert (nudge.type, nudge.data) == (QUEUE_CHANGED, {})
                called = await client.post(
                    f"/api/v1/queue/visits/{first.json()['id']}/call",
                    json={"room": "Room 3"},
                    headers={**desk, **ANY_VERSION},
                )
                assert called.status_code == 200
                mine = await patient.next_of("queue.called")
                assert mine.data == {
                    "visit_id": first.json()["id"],
                    "token": "M-001",
                    "status": "called",
                    "room": "Room 3",
                }
                last_seen = (await staff.next_of("queue.called")).id
            # Reconnect with Last-Event-ID: what happened meanwhile is replayed.
            await client.post(
                f"/api/v1/queue/visits/{second.json()['id']}/leave",
                json={},
                headers={**desk, **ANY_VERSION},
            )
            async with open_stream(
                client, headers={**desk, "Last-Event-ID": str(last_seen)}
            ) as again:
                replayed = await again.next_of("queue.left")
                assert replayed.data["visit_id"] == second.json()["id"]
            # A revoked display cannot connect any more.
            await client.post(
                f"/api/v1/queue/displays/{display.json()['id']}/revoke", headers=admin
            )
            assert (
                await client.get("/api/v1/events", params={"display": secret})
            ).status_code == 404
