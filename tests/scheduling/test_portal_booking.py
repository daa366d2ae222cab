"""Patients booking themselves in the portal, on SQLite and PostgreSQL: online-bookable
types only, the organization's notice / horizon / cancellation rules, own records only,
rate-limited."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.scheduling.schemas import AppointmentTypeWrite
from clinicdesk.scheduling.service import setup
from tests.support.identity import SignIn, create_user
from tests.support.scheduling import Book, at, request


@pytest.fixture
async def vaccination(session: AsyncSession, clinic: Organization, book: Book) -> uuid.UUID:
    await scope_to_tenant(session, clinic.id)
    kind = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(name="Vaccination", duration_minutes=10, online_bookable=True),
    )
    await session.commit()
    return kind.id


async def portal_client(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, patient_id: uuid.UUID
) -> httpx.AsyncClient:
    await scope_to_tenant(session, clinic.id)
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="A Patient",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient_id,
    )
    await session.commit()
    return await sign_in_api(user)


def own(b: Book, type_id: uuid.UUID, start: str) -> dict[str, object]:
    return {
        "provider_id": str(b.provider_id),
        "location_id": str(b.location_id),
        "type_id": str(type_id),
        "starts_at": start,
    }


async def test_a_patient_books_and_cancels_within_the_rules(
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    book: Book,
    vaccination: uuid.UUID,
) -> None:
    patient = await portal_client(session, clinic, sign_in_api, book.patient_id)
    types = await patient.get("/api/v1/portal/appointment-types")
    assert [t["name"] for t in types.json()] == ["Vaccination"]

    found = await patient.get(
        "/api/v1/portal/slots",
        params={
            "type_id": str(vaccination),
            "location_id": str(book.location_id),
            "start": book.monday.isoformat(),
            "end": book.monday.isoformat(),
            "limit": 2,
        },
    )
    assert found.status_code == 200, found.text
    first = found.json()[0]
    assert first["starts_at"].startswith(f"{book.monday}T08:00")

    booked = await patient.post(
        "/api/v1/portal/appointments", json=own(book, vaccination, first["starts_at"])
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["patient_id"] == str(book.patient_id)
    assert booked.json()["booked_via"] == "portal"

    mine = await patient.get("/api/v1/portal/appointments")
    assert [a["id"] for a in mine.json()] == [booked.json()["id"]]

    cancelled = await patient.post(
        f"/api/v1/portal/appointments/{booked.json()['id']}/cancel", json={"reason": "Busy"}
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


async def test_portal_rules_are_enforced(
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    book: Book,
    vaccination: uuid.UUID,
) -> None:
    patient = await portal_client(session, clinic, sign_in_api, book.patient_id)
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    soon = datetime.now(UTC) + timedelta(hours=2)
    too_soon = await patient.post(
        "/api/v1/portal/appointments", json=own(book, vaccination, soon.isoformat())
    )
    assert too_soon.status_code == 422
    assert "notice" in too_soon.json()["detail"]
    far = datetime.combine(date.today() + timedelta(days=120), time(9), tzinfo=UTC)  # noqa: DTZ011
    too_far = await patient.post(
        "/api/v1/portal/appointments", json=own(book, vaccination, far.isoformat())
    )
    assert too_far.status_code == 422
    staff_type = await patient.post(
        "/api/v1/portal/appointments", json=own(book, book.type_id, at(book.monday, 9))
    )
    assert staff_type.status_code == 422
    assert "online" in staff_type.json()["detail"]
    # Someone else's appointment does not exist for this patient.
    other = request(book, at(book.monday, 10))
    other["patient_id"] = str(book.other_patient_id)
    theirs = (await desk.post("/api/v1/appointments", json=other)).json()
    refused = await patient.post(
        f"/api/v1/portal/appointments/{theirs['id']}/cancel", json={"reason": "x!"}
    )
    assert refused.status_code == 404
    assert (await desk.get("/api/v1/portal/appointments")).status_code == 403


async def test_portal_changes_are_rate_limited(
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    book: Book,
    vaccination: uuid.UUID,
) -> None:
    patient = await portal_client(session, clinic, sign_in_api, book.patient_id)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answers = [
        (
            await patient.post("/api/v1/portal/appointments", json=own(book, vaccination, soon))
        ).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [422] * 10  # refused by the rules, but counted
    assert answers[10] == 429


async def test_the_portal_page_finds_times_and_books(
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
    book: Book,
    vaccination: uuid.UUID,
) -> None:
    await scope_to_tenant(session, clinic.id)
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="A Patient",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=book.patient_id,
    )
    await session.commit()
    browser = await sign_in_web(user)
    page = await browser.get("/portal/appointments")
    assert page.status_code == 200
    assert "Book a visit" in page.text
    assert "Vaccination" in page.text
    times = await browser.get(
        "/portal/appointments/slots",
        params={
            "type_id": str(vaccination),
            "location_id": str(book.location_id),
            "start": book.monday.isoformat(),
        },
        headers={"HX-Request": "true"},  # the form asks for the times by htmx
    )
    assert times.status_code == 200
    assert "Pick a time" in times.text
    booked = await browser.post(
        "/portal/appointments",
        data={**own(book, vaccination, at(book.monday, 8)), "csrf_token": "x"},
    )
    assert booked.status_code == 303
    after = await browser.get("/portal/appointments")
    assert "Your appointment is booked." in after.text
    assert "Coming up" in after.text and "Vaccination" in after.text
    assert "You have no upcoming appointments" not in after.text


async def test_the_booking_policy_reads_without_writing_and_updates_with_versions(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    read = await admin.get("/api/v1/booking-policy")
    assert read.status_code == 200
    assert read.json()["min_notice_hours"] == 24
    assert read.headers["etag"] == 'W/"0"'
    body = {**read.json(), "min_notice_hours": 2}
    del body["version"]
    changed = await admin.put("/api/v1/booking-policy", json=body, headers={"If-Match": 'W/"0"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["min_notice_hours"] == 2
    stale = await admin.put("/api/v1/booking-policy", json=body, headers={"If-Match": 'W/"0"'})
    assert stale.status_code == 412
