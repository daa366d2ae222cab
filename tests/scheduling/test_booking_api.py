"""Booking through the API on SQLite and PostgreSQL: hours, overlaps, overbooking,
cancel / no-show / undo, reschedule, idempotent retries, free slots."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.scheduling import Book, at, request


async def desk(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> httpx.AsyncClient:
    return await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))


async def test_book_refuses_overlaps_allows_back_to_back(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    first = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 9)))
    assert first.status_code == 201, first.text
    assert first.json()["ends_at"].startswith(f"{book.monday}T09:30")

    overlap = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 9, 20)))
    assert overlap.status_code == 409
    assert overlap.json()["type"].endswith(":slot-taken")
    assert "already has an appointment" in overlap.json()["detail"]
    # The 10-minute buffer after 09:30 holds until 09:40; 09:40 is back to back.
    in_buffer = await client.post(
        "/api/v1/appointments", json=request(book, at(book.monday, 9, 35))
    )
    assert in_buffer.status_code == 409
    next_one = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 9, 40)))
    assert next_one.status_code == 201, next_one.text


async def test_outside_hours_needs_overbook_permission_and_reason(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    lunch = at(book.monday, 12, 15)
    refused = await client.post("/api/v1/appointments", json=request(book, lunch))
    assert refused.status_code == 409
    assert "does not see patients" in refused.json()["detail"]
    not_allowed = await client.post(
        "/api/v1/appointments", json=request(book, lunch, overbook=True, overbook_reason="Urgent")
    )
    assert not_allowed.status_code == 422
    no_reason = await admin.post("/api/v1/appointments", json=request(book, lunch, overbook=True))
    assert no_reason.status_code == 422
    allowed = await admin.post(
        "/api/v1/appointments", json=request(book, lunch, overbook=True, overbook_reason="Urgent")
    )
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["overbooked"] is True


async def test_cancel_frees_the_slot_and_undo_takes_it_back(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    booked = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 10)))
    ).json()
    base = f"/api/v1/appointments/{booked['id']}"
    cancelled = await client.post(
        f"{base}/cancel", json={"reason": "Patient called"}, headers=ANY_VERSION
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    undone = await client.post(f"{base}/undo", headers=ANY_VERSION)
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "booked"

    await client.post(f"{base}/cancel", json={"reason": "Again"}, headers=ANY_VERSION)
    other = request(book, at(book.monday, 10))
    other["patient_id"] = str(book.other_patient_id)
    taken = await client.post("/api/v1/appointments", json=other)
    assert taken.status_code == 201  # the cancelled time was free
    too_late = await client.post(f"{base}/undo", headers=ANY_VERSION)
    assert too_late.status_code == 409


async def test_no_show_and_reschedule(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    first = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 8)))
    ).json()
    second = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 11)))
    ).json()
    moved = await client.post(
        f"/api/v1/appointments/{first['id']}/reschedule",
        json={"starts_at": at(book.monday, 11, 10)},
        headers={"If-Match": f'W/"{first["version"]}"'},
    )
    assert moved.status_code == 409  # overlaps the second one
    moved = await client.post(
        f"/api/v1/appointments/{first['id']}/reschedule",
        json={"starts_at": at(book.monday, 14)},
        headers={"If-Match": f'W/"{first["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    stale = await client.post(
        f"/api/v1/appointments/{first['id']}/reschedule",
        json={"starts_at": at(book.monday, 15)},
        headers={"If-Match": f'W/"{first["version"]}"'},
    )
    assert stale.status_code == 412
    # A no-show only once the appointment has begun: a past visit, recorded.
    missed = (
        await client.post(
            "/api/v1/appointments",
            json=request(book, at(book.monday - timedelta(days=21), 11), record_past_visit=True),
        )
    ).json()
    no_show = await client.post(f"/api/v1/appointments/{missed['id']}/no-show", headers=ANY_VERSION)
    assert no_show.json()["status"] == "noshow"
    ahead = await client.post(f"/api/v1/appointments/{second['id']}/no-show", headers=ANY_VERSION)
    assert ahead.status_code == 409


async def test_a_retried_booking_returns_the_first_answer(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    body = request(book, at(book.monday, 15))
    headers = {"Idempotency-Key": "booking-7f3a"}
    first = await client.post("/api/v1/appointments", json=body, headers=headers)
    again = await client.post("/api/v1/appointments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotency-replayed"] == "true"
    different = await client.post(
        "/api/v1/appointments", json=request(book, at(book.monday, 16)), headers=headers
    )
    assert different.status_code == 422
    listed = await client.get(
        "/api/v1/appointments",
        params={"start": at(book.monday, 0), "end": at(book.monday + timedelta(days=1), 0)},
    )
    assert len(listed.json()["items"]) == 1


async def test_free_slots_skip_booked_time(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    await client.post("/api/v1/appointments", json=request(book, at(book.monday, 8)))
    found = await client.get(
        "/api/v1/slots",
        params={
            "type_id": str(book.type_id),
            "location_id": str(book.location_id),
            "start": book.monday.isoformat(),
            "end": book.monday.isoformat(),
            "limit": 3,
        },
    )
    assert found.status_code == 200, found.text
    starts = [s["starts_at"][11:16] for s in found.json()]
    assert starts == ["08:40", "08:45", "08:50"]
    afternoon = await client.get(
        "/api/v1/slots",
        params={
            "type_id": str(book.type_id),
            "location_id": str(book.location_id),
            "start": book.monday.isoformat(),
            "end": book.monday.isoformat(),
            "part_of_day": "afternoon",
            "limit": 1,
        },
    )
    assert afternoon.json()[0]["starts_at"][11:16] == "13:00"
