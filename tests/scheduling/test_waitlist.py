"""The waitlist through the API on SQLite and PostgreSQL: freed time is offered to the
first matching waiting patient only; accepting books it, or puts the entry back."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient
from tests.support.scheduling import Book, at, request


async def desk(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> httpx.AsyncClient:
    return await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))


async def patient(session: AsyncSession, clinic: Organization, name: str) -> uuid.UUID:
    await scope_to_tenant(session, clinic.id)
    registered = await register_patient(
        session, given_name=name, family_name="Wait", birth_date=date(1975, 3, 4)
    )
    await session.commit()
    return registered.id


async def wait(
    client: httpx.AsyncClient, b: Book, patient_id: uuid.UUID, **extra: object
) -> dict[str, Any]:
    body: dict[str, object] = {
        "patient_id": str(patient_id),
        "type_id": str(b.type_id),
        "location_id": str(b.location_id),
        "earliest": b.monday.isoformat(),
        "latest": (b.monday + timedelta(days=4)).isoformat(),
        **extra,
    }
    response = await client.post("/api/v1/waitlist", json=body)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def entries(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/waitlist")
    assert response.status_code == 200, response.text
    return {e["id"]: e for e in response.json()}


async def test_a_cancel_offers_the_time_to_the_first_matching_patient_only(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    cal, dan = await patient(session, clinic, "Cal"), await patient(session, clinic, "Dan")
    booked = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 10)))
    ).json()
    # Oldest first: one that does not match (afternoons only), then two that do.
    afternoons = await wait(client, book, book.other_patient_id, part_of_day="afternoon")
    first = await wait(client, book, cal, provider_id=str(book.provider_id))
    later = await wait(client, book, dan)
    assert [e["status"] for e in (await entries(client)).values()] == ["waiting"] * 3

    cancelled = await client.post(
        f"/api/v1/appointments/{booked['id']}/cancel",
        json={"reason": "Patient called"},
        headers=ANY_VERSION,
    )
    assert cancelled.status_code == 200, cancelled.text
    listed = await entries(client)
    assert listed[afternoons["id"]]["status"] == "waiting"
    assert listed[later["id"]]["status"] == "waiting"
    offer = listed[first["id"]]
    assert offer["status"] == "offered"
    assert offer["offered_provider_id"] == str(book.provider_id)
    assert offer["offered_start"][:16] == f"{book.monday}T10:00"
    offered = await client.get("/api/v1/waitlist", params={"status": "offered"})
    assert [e["id"] for e in offered.json()] == [first["id"]]

    accepted = await client.post(f"/api/v1/waitlist/{first['id']}/accept")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["entry"]["status"] == "booked"
    appointment = accepted.json()["appointment"]
    assert appointment["patient_id"] == str(cal)
    assert appointment["starts_at"][:16] == f"{book.monday}T10:00"
    assert appointment["booked_via"] == "waitlist"
    again = await client.post(f"/api/v1/waitlist/{first['id']}/accept")
    assert again.status_code == 409


async def test_an_offer_taken_meanwhile_goes_back_to_waiting(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    booked = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 9)))
    ).json()
    entry = await wait(client, book, book.other_patient_id)
    await client.post(
        f"/api/v1/appointments/{booked['id']}/cancel", json={"reason": "Ill"}, headers=ANY_VERSION
    )
    assert (await entries(client))[entry["id"]]["status"] == "offered"
    # Someone else takes the time before the patient answers.
    retaken = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 9)))
    assert retaken.status_code == 201, retaken.text

    refused = await client.post(f"/api/v1/waitlist/{entry['id']}/accept")
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith(":slot-taken")
    back = (await entries(client))[entry["id"]]
    assert back["status"] == "waiting"
    assert back["offered_start"] is None


async def test_moving_away_offers_the_time_and_removed_entries_get_nothing(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    first = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 14)))
    ).json()
    second = (
        await client.post("/api/v1/appointments", json=request(book, at(book.monday, 15)))
    ).json()
    removed = await wait(client, book, book.other_patient_id)
    gone = await client.post(f"/api/v1/waitlist/{removed['id']}/remove")
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "removed"
    await client.post(
        f"/api/v1/appointments/{first['id']}/cancel", json={"reason": "Ill"}, headers=ANY_VERSION
    )
    assert (await entries(client))[removed["id"]]["status"] == "removed"

    waiting = await wait(client, book, book.other_patient_id, part_of_day="afternoon")
    moved = await client.post(
        f"/api/v1/appointments/{second['id']}/reschedule",
        json={"starts_at": at(book.monday + timedelta(days=1), 15)},
        headers=ANY_VERSION,
    )
    assert moved.status_code == 200, moved.text
    offer = (await entries(client))[waiting["id"]]
    assert offer["status"] == "offered"
    # 14:00 (the cancelled one) is free too; the offer is the time nearest what was freed.
    assert offer["offered_start"][:16] == f"{book.monday}T15:00"
