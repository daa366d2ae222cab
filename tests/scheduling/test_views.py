"""The calendar pages over HTTP on SQLite and PostgreSQL: the page, the events it shows
in the location's wall-clock time, booking from the dialog (and its 409), the drag move,
cancelling with a reason, the day list and the chart's appointments fragment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import booking, setup
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient

ZONE = "America/New_York"


@dataclass
class Desk:
    """A doctor working Mon-Fri 08:00-12:00 (New York time) at one location, a
    30-minute type, two patients, and the Monday after next."""

    doctor: User
    provider_id: uuid.UUID
    location_id: uuid.UUID
    type_id: uuid.UUID
    patient_id: uuid.UUID
    other_patient_id: uuid.UUID
    monday: date


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday() + 7)


async def make_desk(session: AsyncSession, clinic: Organization) -> Desk:
    doctor = await create_user(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Main", time_zone=ZONE)
    )
    provider = await setup.create_provider(
        session,
        actor=SYSTEM,
        data=ProviderWrite(user_id=doctor.id, display_name="Dr. Dee", location_ids=[location.id]),
    )
    blocks = [
        HoursBlock(location_id=location.id, weekday=d, start_time=time(8), end_time=time(12))
        for d in range(5)
    ]
    await setup.set_weekly_hours(
        session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=blocks)
    )
    kind = await setup.create_type(
        session,
        actor=SYSTEM,
        data=AppointmentTypeWrite(name="Consultation", duration_minutes=30, color="#1d4ed8"),
    )
    patients = [
        await register_patient(
            session, given_name=g, family_name="Viewer", birth_date=date(1980, 1, 1)
        )
        for g in ("Ann", "Ben")
    ]
    await session.commit()
    return Desk(
        doctor,
        provider.id,
        location.id,
        kind.id,
        patients[0].id,
        patients[1].id,
        next_monday(),
    )


@pytest.fixture
async def desk(session: AsyncSession, clinic: Organization) -> Desk:
    return await make_desk(session, clinic)


async def book_at(session: AsyncSession, desk: Desk, hour: int, patient: uuid.UUID) -> uuid.UUID:
    """An appointment at ``hour`` New York time on the Monday (EST or EDT alike)."""
    from zoneinfo import ZoneInfo

    appointment = await booking.book(
        session,
        actor=SYSTEM,
        data=AppointmentCreate(
            patient_id=patient,
            provider_id=desk.provider_id,
            location_id=desk.location_id,
            type_id=desk.type_id,
            starts_at=datetime.combine(desk.monday, time(hour), tzinfo=ZoneInfo(ZONE)),
        ),
    )
    await session.commit()
    return appointment.id


async def receptionist(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> httpx.AsyncClient:
    return await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))


HTMX = {"HX-Request": "true"}


async def test_calendar_page_and_its_events_in_local_time(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    await book_at(session, desk, 9, desk.patient_id)
    client = await receptionist(session, clinic, sign_in_web)
    page = await client.get("/calendar", params={"date": desk.monday.isoformat()})
    assert page.status_code == 200, page.text
    assert 'id="calendar"' in page.text
    assert "Dr. Dee" in page.text and ZONE in page.text
    assert "/static/vendor/event-calendar/event-calendar.min.js" in page.text

    day = desk.monday.isoformat()
    events = await client.get(
        "/calendar/events",
        params={
            "location_id": str(desk.location_id),
            "start": f"{day}T00:00:00",
            "end": f"{day}T23:59:00",
        },
    )
    assert events.status_code == 200, events.text
    shown = [e for e in events.json() if e.get("display") != "background"]
    hours = [e for e in events.json() if e.get("display") == "background"]
    assert [e["start"] for e in shown] == [f"{day}T09:00:00"]  # wall clock, no offset
    assert shown[0]["title"] == "Ann Viewer · Consultation"
    assert shown[0]["backgroundColor"] == "#1d4ed8"
    assert shown[0]["extendedProps"]["version"] == 1
    assert [(h["start"], h["end"]) for h in hours] == [(f"{day}T08:00:00", f"{day}T12:00:00")]


async def test_booking_form_books_and_a_taken_slot_answers_409(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    client = await receptionist(session, clinic, sign_in_web)
    day = desk.monday.isoformat()
    form = await client.get(
        "/calendar/book",
        params={
            "location_id": str(desk.location_id),
            "provider_id": str(desk.provider_id),
            "start": f"{day}T10:00:00",
        },
        headers=HTMX,
    )
    assert form.status_code == 200
    assert f'value="{day}T10:00"' in form.text
    assert "<html" not in form.text  # the dialog's content only

    options = await client.get("/patients/options", params={"q": "Viewer"}, headers=HTMX)
    assert str(desk.patient_id) in options.text and "Viewer, Ann" in options.text

    fields = {
        "location_id": str(desk.location_id),
        "provider_id": str(desk.provider_id),
        "type_id": str(desk.type_id),
        "patient_id": str(desk.patient_id),
        "starts_at": f"{day}T10:00",
        "reason": "Check-up",
    }
    booked = await client.post("/calendar/book", data=fields, headers=HTMX)
    assert booked.status_code == 200, booked.text
    monday = desk.monday  # written as the clinic writes dates (MM/DD/YYYY), not ISO
    assert f"Booked Ann Viewer at 10:00 on {monday:%m/%d/%Y}." in booked.text
    assert "calendar:changed" in booked.headers["HX-Trigger"]

    taken = await client.post(
        "/calendar/book",
        data={**fields, "patient_id": str(desk.other_patient_id), "starts_at": f"{day}T10:15"},
        headers=HTMX,
    )
    assert taken.status_code == 409
    assert "already has an appointment at 10:00" in taken.text
    assert "Ben Viewer" in taken.text  # the chosen patient stays chosen

    outside = await client.post(
        "/calendar/book", data={**fields, "starts_at": f"{day}T13:00"}, headers=HTMX
    )
    assert outside.status_code == 409
    assert "does not see patients" in outside.text

    no_patient = await client.post(
        "/calendar/book", data={**fields, "patient_id": ""}, headers=HTMX
    )
    assert no_patient.status_code == 422
    assert "Choose the patient" in no_patient.text


async def test_drag_moves_and_a_conflict_is_refused(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    first = await book_at(session, desk, 9, desk.patient_id)
    await book_at(session, desk, 11, desk.other_patient_id)
    client = await receptionist(session, clinic, sign_in_web)
    day = desk.monday.isoformat()
    moved = await client.post(
        f"/calendar/appointments/{first}/move",
        json={"starts_at": f"{day}T10:00:00", "version": 1},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] == f"{day}T10:00:00"
    assert moved.json()["version"] == 2

    conflict = await client.post(
        f"/calendar/appointments/{first}/move",
        json={"starts_at": f"{day}T11:15:00", "version": 2},
        headers={"Accept": "application/json"},
    )
    assert conflict.status_code == 409
    assert "already has an appointment" in conflict.json()["detail"]

    stale = await client.post(
        f"/calendar/appointments/{first}/move",
        json={"starts_at": f"{day}T08:00:00", "version": 1},
        headers={"Accept": "application/json"},
    )
    assert stale.status_code == 412

    # Without a version the move would skip the stale-write check: refused instead.
    for unversioned in (
        {"starts_at": f"{day}T08:00:00"},
        {"starts_at": f"{day}T08:00:00", "version": None},
    ):
        refused = await client.post(
            f"/calendar/appointments/{first}/move",
            json=unversioned,
            headers={"Accept": "application/json"},
        )
        assert refused.status_code == 428
        assert "missing its version" in refused.json()["detail"]


async def test_cancel_needs_a_reason_and_can_be_undone(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    appointment = await book_at(session, desk, 9, desk.patient_id)
    client = await receptionist(session, clinic, sign_in_web)
    details = await client.get(f"/calendar/appointments/{appointment}", headers=HTMX)
    assert details.status_code == 200
    assert "Ann Viewer" in details.text and "Booked" in details.text
    assert "Cancel appointment" in details.text
    assert "Mark no-show" not in details.text  # not begun yet: nobody has missed it

    url = f"/calendar/appointments/{appointment}"
    no_reason = await client.post(f"{url}/cancel", data={"version": "1"}, headers=HTMX)
    assert no_reason.status_code == 422
    assert "Give the reason" in no_reason.text

    cancelled = await client.post(
        f"{url}/cancel", data={"version": "1", "reason": "Patient is travelling"}, headers=HTMX
    )
    assert cancelled.status_code == 200, cancelled.text
    assert "Appointment cancelled." in cancelled.text
    assert "Patient is travelling" in cancelled.text
    assert "Undo cancelled" in cancelled.text
    assert "calendar:changed" in cancelled.headers["HX-Trigger"]

    restored = await client.post(f"{url}/undo", data={"version": "2"}, headers=HTMX)
    assert restored.status_code == 200
    assert "booked again" in restored.text

    moved = await client.post(
        f"{url}/reschedule",
        data={"version": "3", "starts_at": f"{desk.monday}T08:30"},
        headers=HTMX,
    )
    assert moved.status_code == 200, moved.text
    assert "08:30" in moved.text


async def test_day_list_and_chart_fragment(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    appointment = await book_at(session, desk, 9, desk.patient_id)
    client = await receptionist(session, clinic, sign_in_web)
    listing = await client.get(
        "/calendar/list",
        params={"location_id": str(desk.location_id), "date": desk.monday.isoformat()},
    )
    assert listing.status_code == 200
    assert "09:00\u201309:30" in listing.text
    assert f"/calendar/appointments/{appointment}" in listing.text
    assert "Ann Viewer" in listing.text

    page = await client.get(f"/calendar/appointments/{appointment}")  # without JavaScript
    assert page.status_code == 200 and "<html" in page.text and "Cancel appointment" in page.text

    fragment = await client.get(
        f"/scheduling/patients/{desk.patient_id}/appointments", headers=HTMX
    )
    assert fragment.status_code == 200
    assert "Upcoming" in fragment.text and f"{desk.monday:%m/%d/%Y} 09:00" in fragment.text
    assert "No past appointments." in fragment.text

    chart = await client.get(f"/patients/{desk.patient_id}")
    assert f'hx-get="/scheduling/patients/{desk.patient_id}/appointments"' in chart.text


async def test_a_nurse_sees_the_calendar_but_cannot_book(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, desk: Desk
) -> None:
    nurse = await sign_in_web(await create_user(session, clinic, Role.NURSE))
    page = await nurse.get("/calendar")
    assert page.status_code == 200
    assert '"canWrite": false' in page.text
    refused = await nurse.get("/calendar/book")
    assert refused.status_code == 403
