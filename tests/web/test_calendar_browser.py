"""The calendar in headless Chromium against a real `clinicdesk serve`: book by clicking
a free slot, drag an appointment to another time and see it kept after a reload, cancel
with a reason. Its own organization (made by the CLI, set up through the JSON API)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pyotp
import pytest
from playwright.async_api import Page, expect

from tests.support.patients import register_over_http
from tests.support.server import run_cli
from tests.web.conftest import LIVE_PASSWORD, LiveClinic
from tests.web.test_browser import problems, snap

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class CalendarClinic:
    url: str
    desk_email: str
    location_id: str
    day: date


def a_weekday_ahead() -> date:
    """A Tuesday two weeks ahead: inside the hours, never in the past."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=(1 - today.weekday()) % 7 + 14)


async def token(client: httpx.AsyncClient, email: str, totp: str | None = None) -> str:
    form = {"username": email, "password": LIVE_PASSWORD, **({"totp": totp} if totp else {})}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


_made: dict[str, CalendarClinic] = {}


async def calendar_clinic(live: LiveClinic) -> CalendarClinic:
    """Made once: an organization in London time with a location, Dr. Cal working every
    day 08:00-18:00, a 30-minute type, patients, and a receptionist."""
    if "clinic" in _made:
        return _made["clinic"]
    output = run_cli(
        live.data_dir,
        "org",
        "create",
        "Calendar Clinic",
        "--admin-email",
        "cal-admin@example.org",
        "--admin-password",
        LIVE_PASSWORD,
        "--time-zone",
        "Europe/London",
    )
    match = re.search(r"\(([0-9a-f-]{36})\)", output)
    assert match, output
    for email, role in (
        ("cal-doctor@example.org", "doctor"),
        ("cal-desk@example.org", "receptionist"),
    ):
        run_cli(
            live.data_dir,
            "user",
            "create",
            "--organization",
            match.group(1),
            "--email",
            email,
            "--name",
            "Dr. Cal" if role == "doctor" else "Desk Cal",
            "--role",
            role,
            "--password",
            LIVE_PASSWORD,
        )
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        # The admin sets up two-factor sign-in through the API, then signs in with it.
        first = {"Authorization": f"Bearer {await token(client, 'cal-admin@example.org')}"}
        secret = (await client.post("/api/v1/me/mfa", headers=first)).json()["secret"]
        confirmed = await client.post(
            "/api/v1/me/mfa/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=first
        )
        assert confirmed.status_code == 200, confirmed.text
        recovery = confirmed.json()["recovery_codes"][0]
        admin = {
            "Authorization": f"Bearer {await token(client, 'cal-admin@example.org', recovery)}"
        }
        doctor = {"Authorization": f"Bearer {await token(client, 'cal-doctor@example.org')}"}
        doctor_id = (await client.get("/api/v1/me", headers=doctor)).json()["id"]
        location = await client.post(
            "/api/v1/locations", json={"name": "High Street"}, headers=admin
        )
        assert location.status_code == 201, location.text
        location_id = location.json()["id"]
        provider = await client.post(
            "/api/v1/providers",
            json={"user_id": doctor_id, "display_name": "Dr. Cal", "location_ids": [location_id]},
            headers=admin,
        )
        assert provider.status_code == 201, provider.text
        blocks = [
            {"location_id": location_id, "weekday": d, "start_time": "08:00", "end_time": "18:00"}
            for d in range(7)
        ]
        hours = await client.put(
            f"/api/v1/providers/{provider.json()['id']}/hours",
            json={"blocks": blocks},
            headers={**admin, "If-Match": provider.headers["etag"]},
        )
        assert hours.status_code == 200, hours.text
        for name, color, minutes, online in (
            ("Consultation", "#1d4ed8", 30, False),
            ("Vaccination", "#0f766e", 15, True),
        ):
            kind = await client.post(
                "/api/v1/appointment-types",
                json={
                    "name": name,
                    "duration_minutes": minutes,
                    "color": color,
                    "online_bookable": online,
                },
                headers=admin,
            )
            assert kind.status_code == 201, kind.text
        for given, family in (("Maple", "Thornbury"), ("Rowan", "Ashdown")):
            await register_over_http(
                client,
                headers=doctor,
                given_name=given,
                family_name=family,
                birth_date="1975-04-03",
            )
    _made["clinic"] = CalendarClinic(
        live.url, "cal-desk@example.org", location_id, a_weekday_ahead()
    )
    return _made["clinic"]


async def desk_sign_in(page: Page, clinic: CalendarClinic) -> None:
    # Tall enough to show the whole working day: mouse clicks and drags use the viewport.
    await page.set_viewport_size({"width": 1280, "height": 1700})
    await page.goto(clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(clinic.desk_email)
    await page.get_by_label("Password").fill(LIVE_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("link", name="Calendar")).to_be_visible()


async def open_day(page: Page, clinic: CalendarClinic) -> None:
    await page.goto(f"{clinic.url}/calendar?location_id={clinic.location_id}&date={clinic.day}")
    await expect(page.locator(".ec-bg-event.cal-open").first).to_be_visible()


async def click_time(page: Page, hour: float) -> None:
    """Click the provider's column at ``hour`` (the open hours run 08:00-18:00)."""
    box = await page.locator(".ec-bg-event.cal-open").first.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * (hour - 8) / 10 + 4
    await page.mouse.click(box["x"] + box["width"] / 2, y)


async def book(page: Page, hour: float, patient: str) -> None:
    await click_time(page, hour)
    dialog = page.locator("#cal-dialog")
    await expect(dialog.get_by_role("heading", name="Book an appointment")).to_be_visible()
    await dialog.get_by_label("Find the patient").press_sequentially(patient, delay=40)
    choice = dialog.get_by_role("radio", name=re.compile(patient))
    await expect(choice).to_be_visible()
    await choice.check()
    await dialog.get_by_label("Type").select_option(label="Consultation (30 min)")
    await dialog.get_by_label("Reason").fill("Knee pain")
    await dialog.get_by_role("button", name="Book", exact=True).click()
    await expect(dialog.get_by_role("heading", name="Booked")).to_be_visible()


async def test_book_drag_and_cancel_in_the_calendar(page: Page, live_clinic: LiveClinic) -> None:
    clinic = await calendar_clinic(live_clinic)
    await desk_sign_in(page, clinic)
    await open_day(page, clinic)
    await snap(page, "calendar-empty")

    await book(page, 10, "Thornbury")
    await snap(page, "calendar-booked-dialog")
    await page.locator("#cal-dialog").get_by_role("button", name="Close").first.click()
    event = page.locator(".ec-event", has_text="Thornbury")
    await expect(event).to_be_visible()
    await expect(event).to_contain_text("10:00")
    await snap(page, "calendar-day")

    # Drag it down by one hour: 4 slots of 15 minutes.
    box = await event.bounding_box()
    assert box is not None
    slot = await page.locator(".ec-bg-event.cal-open").first.bounding_box()
    assert slot is not None
    hour_px = slot["height"] / 10
    x, y = box["x"] + box["width"] / 2, box["y"] + 6
    await page.mouse.move(x, y)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(x, y + hour_px * step / 10)
    await page.mouse.up()
    await expect(page.locator("#live-region")).to_contain_text("Moved to 11:00")
    await page.reload()
    moved = page.locator(".ec-event", has_text="Thornbury")
    await expect(moved).to_contain_text("11:00")

    # A booking that would overlap snaps back and says why.
    await book(page, 13, "Ashdown")
    await page.locator("#cal-dialog").get_by_role("button", name="Close").first.click()
    other = page.locator(".ec-event", has_text="Ashdown")
    await expect(other).to_contain_text("13:00")
    obox = await other.bounding_box()
    assert obox is not None
    ox, oy = obox["x"] + obox["width"] / 2, obox["y"] + 6
    await page.mouse.move(ox, oy)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(ox, oy - 2 * hour_px * step / 10)
    await page.mouse.up()
    await expect(page.locator("#live-region")).to_contain_text("already has an appointment")
    await expect(other).to_contain_text("13:00")
    await snap(page, "calendar-refused-move")

    # Cancel with a reason, from the details dialog.
    await moved.click()
    dialog = page.locator("#cal-dialog")
    await expect(dialog.get_by_role("heading", name=re.compile("Maple Thornbury"))).to_be_visible()
    await snap(page, "calendar-details")
    await dialog.get_by_text("Cancel the appointment").click()
    await dialog.get_by_label("Reason for cancelling").fill("Feeling better")
    await dialog.get_by_role("button", name="Cancel appointment").click()
    await expect(dialog.get_by_text("Appointment cancelled.")).to_be_visible()
    await expect(dialog.get_by_role("button", name="Undo cancelled")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.reload()
    # Cancelled appointments take no room until asked for.
    await expect(page.locator(".ec-event", has_text="Ashdown")).to_be_visible()
    await expect(page.locator(".ec-event.cal-status-cancelled")).to_have_count(0)
    await page.get_by_label("Show cancelled").check()
    await expect(page.locator(".ec-event.cal-status-cancelled")).to_contain_text("Cancelled")
    await snap(page, "calendar-cancelled")

    await page.goto(
        f"{clinic.url}/calendar/list?location_id={clinic.location_id}&date={clinic.day}"
    )
    await expect(page.get_by_role("cell", name="Cancelled")).to_be_visible()
    await snap(page, "calendar-list")
    # The refused move answered 409 on purpose; anything else is a problem.
    assert [p for p in problems(page) if "status of 409" not in p] == []


async def book_over_http(clinic: CalendarClinic, day: date, patient: str) -> None:
    """An appointment at 09:00 UTC on ``day`` (inside the hours in London, summer or not)
    booked by the front desk through the JSON API."""
    async with httpx.AsyncClient(base_url=clinic.url, timeout=30) as client:
        desk = {"Authorization": f"Bearer {await token(client, clinic.desk_email)}"}
        found = await client.get("/api/v1/patients", params={"q": patient}, headers=desk)
        assert found.status_code == 200, found.text
        providers = (await client.get("/api/v1/providers", headers=desk)).json()
        kinds = (await client.get("/api/v1/appointment-types", headers=desk)).json()
        booked = await client.post(
            "/api/v1/appointments",
            json={
                "patient_id": found.json()["items"][0]["id"],
                "provider_id": providers[0]["id"],
                "location_id": clinic.location_id,
                "type_id": next(k["id"] for k in kinds if k["name"] == "Consultation"),
                "starts_at": f"{day.isoformat()}T09:00:00+00:00",
            },
            headers=desk,
        )
        assert booked.status_code == 201, booked.text


async def test_week_view_and_keyboard_details(page: Page, live_clinic: LiveClinic) -> None:
    clinic = await calendar_clinic(live_clinic)
    # Its own appointment, later in the same week (the week starts on Monday), so the
    # test never depends on what another test left in the calendar.
    await book_over_http(clinic, clinic.day + timedelta(days=2), "Ashdown")
    await desk_sign_in(page, clinic)
    await page.goto(
        f"{clinic.url}/calendar?location_id={clinic.location_id}&date={clinic.day}&view=week"
    )
    await expect(page.locator(".ec-bg-event.cal-open").first).to_be_visible()
    # The appointments arrive after the grid: wait for them, never take "none yet" for
    # "none".
    event = page.locator(".ec-event[role=button]", has_text="Ashdown").first
    await expect(event).to_be_visible()
    await snap(page, "calendar-week")
    await event.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#cal-dialog")).to_be_visible()
    await expect(page.locator("#cal-dialog")).to_contain_text("Rowan Ashdown")
    await page.keyboard.press("Escape")
    assert problems(page) == []


async def test_a_taken_time_offers_free_times_and_today_is_readable(
    page: Page, live_clinic: LiveClinic
) -> None:
    clinic = await calendar_clinic(live_clinic)
    await desk_sign_in(page, clinic)
    # Today's "Today" button is disabled: its text must still stand out from its face.
    await page.goto(f"{clinic.url}/calendar?location_id={clinic.location_id}")
    today = page.get_by_role("button", name="Today")
    await expect(today).to_be_disabled()
    colours = await today.evaluate(
        "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    )
    assert colours[0] != colours[1], colours
    assert colours[0] not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), colours

    day = clinic.day + timedelta(days=1)  # a day of its own: the other tests use clinic.day
    await page.goto(f"{clinic.url}/calendar?location_id={clinic.location_id}&date={day}")
    await expect(page.locator(".ec-bg-event.cal-open").first).to_be_visible()
    await book(page, 10, "Thornbury")
    dialog = page.locator("#cal-dialog")
    await dialog.get_by_role("button", name="Close").first.click()
    await expect(page.locator(".ec-event", has_text="Thornbury")).to_be_visible()

    # The same time again (typed: a click on 10:00 now opens the booking there): refused,
    # with the provider's next free times to pick from.
    await click_time(page, 12)
    await expect(dialog.get_by_role("heading", name="Book an appointment")).to_be_visible()
    await dialog.get_by_label(re.compile("^Starts")).fill(f"{day}T10:00")
    await dialog.get_by_label("Find the patient").press_sequentially("Ashdown", delay=40)
    choice = dialog.get_by_role("radio", name=re.compile("Ashdown"))
    await expect(choice).to_be_visible()
    await choice.check()
    await dialog.get_by_label("Type").select_option(label="Consultation (30 min)")
    await dialog.get_by_role("button", name="Book", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_contain_text("already has an appointment")
    offer = dialog.locator("button.cal-offer").first
    await expect(offer).to_contain_text("10:30")
    await snap(page, "calendar-clash-offers")
    await offer.click()
    await expect(dialog.get_by_role("heading", name="Booked")).to_be_visible()
    await expect(dialog).to_contain_text("Rowan Ashdown at 10:30")
    await dialog.get_by_role("button", name="Close").first.click()
    await expect(page.locator(".ec-event", has_text="Ashdown")).to_be_visible()
    # The clash answered 409 on purpose; anything else is a problem.
    assert [p for p in problems(page) if "status of 409" not in p] == []
