"""The front desk's clock rules and buttons on SQLite and PostgreSQL: a check-in long
before the appointment needs the desk's confirmation (API and page alike), the day list
and the appointment page check patients in, and the receptionist sets up the
waiting-room display."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import User
from tests.queue.conftest import Staff
from tests.support.identity import SignIn
from tests.support.queue import QueueClinic, book_today

HTMX = {"HX-Request": "true"}


async def web(
    session: AsyncSession, qc: QueueClinic, sign_in: SignIn, who: str
) -> httpx.AsyncClient:
    user = await session.get(User, qc.user_ids[who])
    assert user is not None
    return await sign_in(user)


async def test_an_early_check_in_needs_the_desks_confirmation_in_the_api(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    later = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=180)
    soon = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=100)
    desk = await staff.as_("desk")

    refused = await desk.post("/api/v1/queue/check-ins", json={"appointment_id": str(later)})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith(":check-in-too-early")
    assert "check-in opens 120 minutes before" in problem["detail"]
    assert problem["appointment_id"] == str(later)

    confirmed = await desk.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(later), "early": True}
    )
    assert confirmed.status_code == 201, confirmed.text
    within = await desk.post("/api/v1/queue/check-ins", json={"appointment_id": str(soon)})
    assert within.status_code == 201, within.text


async def test_the_desk_page_asks_before_an_early_check_in(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    later = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=150)
    desk = await web(session, qc, sign_in_web, "desk")

    asked = await desk.post("/queue/check-ins", data={"appointment_id": str(later)}, headers=HTMX)
    assert asked.status_code == 409
    assert "Confirm an early check-in" in asked.text
    assert 'name="early" value="1"' in asked.text
    assert f'name="appointment_id" value="{later}"' in asked.text

    done = await desk.post(
        "/queue/check-ins", data={"appointment_id": str(later), "early": "1"}, headers=HTMX
    )
    assert done.status_code == 200, done.text
    assert re.search(r"M-\d{3}", done.text)


async def test_the_day_list_and_the_appointment_page_check_patients_in(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    today = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=30)
    desk = await web(session, qc, sign_in_web, "desk")

    listed = await desk.get("/calendar/list", params={"location_id": str(qc.location_id)})
    assert listed.status_code == 200
    row_form = re.search(
        rf'action="/queue/check-ins".*?name="appointment_id" value="{today}"', listed.text, re.S
    )
    assert row_form, "the day list offers no check-in"
    assert 'id="q-result"' in listed.text

    page = await desk.get(f"/calendar/appointments/{today}")
    assert 'action="/queue/check-ins"' in page.text and 'id="q-result"' in page.text

    checked = await desk.post("/queue/check-ins", data={"appointment_id": str(today)}, headers=HTMX)
    assert checked.status_code == 200, checked.text
    again = await desk.get(f"/calendar/appointments/{today}")
    assert 'action="/queue/check-ins"' not in again.text  # arrived: nothing to check in

    billing_like = await web(session, qc, sign_in_web, "admin")  # sees, does not move queues
    seen = await billing_like.get("/calendar/list", params={"location_id": str(qc.location_id)})
    assert 'action="/queue/check-ins"' not in seen.text


async def test_the_receptionist_sets_up_the_waiting_room_display(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn, staff: Staff
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    board = await desk.get("/queue", params={"location_id": str(qc.location_id)})
    assert 'href="/queue/displays"' in board.text
    made = await desk.post(
        "/queue/displays",
        data={"location_id": str(qc.location_id), "name": "Lobby TV"},
        headers=HTMX,
    )
    assert made.status_code == 200, made.text
    assert "data-display-link" in made.text
    listed = await (await staff.as_("desk")).get("/api/v1/queue/displays")
    assert listed.status_code == 200 and [d["name"] for d in listed.json()] == ["Lobby TV"]

    doctor = await web(session, qc, sign_in_web, "doctor")
    assert (await doctor.get("/queue/displays")).status_code == 403
