"""The appointment book's clock rules and the calendar's front-desk answers on SQLite and
PostgreSQL: no booking in the past unless it records a past visit (API and page agree),
no move into the past, no no-show before the start; the calendar opens where the user
works (or the busiest location), hides cancelled appointments unless asked, shows the
name on short ones, and offers free times when the time asked for is taken."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.service.hours import location_zone
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn
from tests.support.queue import QueueClinic, book_today, make_queue_clinic

HTMX = {"HX-Request": "true"}


async def person(
    session: AsyncSession, qc: QueueClinic, sign_in: SignIn, who: str
) -> httpx.AsyncClient:
    user = await session.get(User, qc.user_ids[who])
    assert user is not None
    return await sign_in(user)


def body(qc: QueueClinic, start: datetime, patient: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "patient_id": str(qc.patient_ids[patient]),
        "provider_id": str(qc.provider_id),
        "location_id": str(qc.location_id),
        "type_id": str(qc.consultation_id),
        "starts_at": start.isoformat(),
        **extra,
    }


def now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def test_a_past_time_is_booked_only_as_a_recorded_past_visit(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    desk = await person(session, qc, sign_in_api, "desk")

    refused = await desk.post("/api/v1/appointments", json=body(qc, now() - timedelta(hours=2)))
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith(":time-in-past")
    assert "has already passed" in refused.json()["detail"]

    under_way = await desk.post(
        "/api/v1/appointments", json=body(qc, now() - timedelta(minutes=10))
    )
    assert under_way.status_code == 201, under_way.text  # the slot under way is still bookable

    recorded = await desk.post(
        "/api/v1/appointments",
        json=body(qc, now() - timedelta(hours=2), patient=1, record_past_visit=True),
    )
    assert recorded.status_code == 201, recorded.text
    await scope_to_tenant(session, clinic.id)
    entry = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "appointment.booked",
            AuditEvent.resource_id == recorded.json()["id"],
        )
    )
    assert entry is not None and entry.details == {"past_visit": True}

    moved_back = await desk.post(
        f"/api/v1/appointments/{under_way.json()['id']}/reschedule",
        json={"starts_at": (now() - timedelta(hours=3)).isoformat()},
        headers=ANY_VERSION,
    )
    assert moved_back.status_code == 409
    assert moved_back.json()["type"].endswith(":time-in-past")


async def test_the_booking_form_refuses_a_past_time_and_offers_to_record_it(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    desk = await person(session, qc, sign_in_web, "desk")
    zone = await location_zone(session, qc.location_id)
    local = (now() - timedelta(hours=2)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    form = {
        "location_id": str(qc.location_id),
        "provider_id": str(qc.provider_id),
        "patient_id": str(qc.patient_ids[0]),
        "type_id": str(qc.consultation_id),
        "starts_at": local,
    }
    refused = await desk.post("/calendar/book", data=form, headers=HTMX)
    assert refused.status_code == 409
    assert "has already passed" in refused.text
    assert 'name="record_past_visit"' in refused.text

    recorded = await desk.post(
        "/calendar/book", data={**form, "record_past_visit": "1"}, headers=HTMX
    )
    assert recorded.status_code == 200, recorded.text
    assert "Booked" in recorded.text


async def test_a_no_show_is_marked_only_once_the_appointment_has_begun(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, sign_in_web: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    ahead = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=60)
    begun = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=-5)
    desk = await person(session, qc, sign_in_api, "desk")

    early = await desk.post(f"/api/v1/appointments/{ahead}/no-show", headers=ANY_VERSION)
    assert early.status_code == 409
    assert "only once its start time has passed" in early.json()["detail"]
    late = await desk.post(f"/api/v1/appointments/{begun}/no-show", headers=ANY_VERSION)
    assert late.status_code == 200 and late.json()["status"] == "noshow"

    page_desk = await person(session, qc, sign_in_web, "desk")
    future_page = await page_desk.get(f"/calendar/appointments/{ahead}")
    assert "Mark no-show" not in future_page.text
    third = await book_today(session, qc, qc.patient_ids[2], minutes_from_now=-1)
    assert "Mark no-show" in (await page_desk.get(f"/calendar/appointments/{third}")).text


async def test_the_calendar_opens_where_the_user_works_else_at_the_busiest(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    await scope_to_tenant(session, clinic.id)
    # Alphabetically first, and empty: never the default by name alone.
    quiet = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Aardvark Annex")
    )
    await session.commit()
    await book_today(session, qc, qc.patient_ids[0], minutes_from_now=30)

    def shown(page: httpx.Response) -> uuid.UUID:
        found = re.search(r'<option value="([0-9a-f-]{36})" selected>', page.text)
        assert found, page.text
        return uuid.UUID(found.group(1))

    desk = await person(session, qc, sign_in_web, "desk")  # not a provider: the busiest
    assert shown(await desk.get("/calendar")) == qc.location_id
    assert shown(await desk.get("/calendar/list")) == qc.location_id
    # A location chosen is remembered for the next visit.
    chosen = await desk.get("/calendar", params={"location_id": str(quiet.id)})
    assert shown(chosen) == quiet.id
    assert shown(await desk.get("/calendar")) == quiet.id

    doctor = await person(session, qc, sign_in_web, "doctor")  # works at Main Street
    assert shown(await doctor.get("/calendar", params={"view": "week"})) == qc.location_id


async def test_cancelled_appointments_take_no_room_unless_asked_and_short_ones_keep_names(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, sign_in_api: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    kept = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=60)
    gone = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=90)
    api = await person(session, qc, sign_in_api, "desk")
    cancel = await api.post(
        f"/api/v1/appointments/{gone}/cancel", json={"reason": "Called"}, headers=ANY_VERSION
    )
    assert cancel.status_code == 200
    desk = await person(session, qc, sign_in_web, "desk")
    zone = await location_zone(session, qc.location_id)
    day = now().astimezone(zone).date()
    window = {
        "location_id": str(qc.location_id),
        "start": f"{day}T00:00:00",
        "end": f"{day + timedelta(days=1)}T00:00:00",
    }

    def appointments(answer: httpx.Response) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for e in answer.json() if e.get("display") != "background"}

    default = appointments(await desk.get("/calendar/events", params=window))
    assert set(default) == {str(kept)}
    asked = appointments(await desk.get("/calendar/events", params={**window, "cancelled": "1"}))
    assert set(asked) == {str(kept), str(gone)}

    short = default[str(kept)]  # a 15-minute consultation
    assert "cal-short" in short["classNames"]
    assert short["title"].removeprefix("⚑ ").startswith("Ann Queuea")  # name first
    details = short["extendedProps"]["details"]
    assert "Ann Queuea" in details and "Dr. Ada" in details and "Booked" in details
    page = await desk.get("/calendar", params={"cancelled": "1"})
    assert 'id="cal-show-cancelled" checked' in page.text
    assert '"showCancelled": true' in page.text


async def test_a_taken_time_offers_free_times_that_book_with_one_click(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic)
    zone = await location_zone(session, qc.location_id)
    start = (now() + timedelta(minutes=65)).astimezone(zone).replace(minute=0)
    await book_today(session, qc, qc.patient_ids[0], on=start)
    desk = await person(session, qc, sign_in_web, "desk")
    form = {
        "location_id": str(qc.location_id),
        "provider_id": str(qc.provider_id),
        "patient_id": str(qc.patient_ids[1]),
        "type_id": str(qc.consultation_id),
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
    }
    taken = await desk.post("/calendar/book", data=form, headers=HTMX)
    assert taken.status_code == 409
    offers = re.findall(r'name="choice" value="([^"]+)"', taken.text)
    same = [o for o in offers if o.startswith(str(qc.provider_id))]
    other = [o for o in offers if o.startswith(str(qc.other_provider_id))]
    assert same and other, taken.text
    # The same provider's next free time is right after the booking in the way.
    assert same[0].endswith((start + timedelta(minutes=15)).strftime("T%H:%M"))
    assert "Dr. Bo" in taken.text

    booked = await desk.post("/calendar/book", data={**form, "choice": other[0]}, headers=HTMX)
    assert booked.status_code == 200, booked.text
    assert f"at {other[0].split('T')[1]}" in booked.text
