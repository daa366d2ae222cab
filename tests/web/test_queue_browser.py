"""A whole morning at the front desk in headless Chromium against a real `clinicdesk
serve`: the desk checks in booked patients and a walk-in, prioritises one, marks one as
left; the doctor calls the next patient to a room, starts, finishes (and lands on the
chart), calls the next. A waiting-room display (opened by its link, nobody signed in)
and a patient's status page (opened by the link shown at check-in, on a phone) follow
along, like the desk's board, without reloading."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.support.http import ANY_VERSION
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import PHONE_CONTEXT, new_page
from tests.web.test_browser import problems, snap

pytestmark = pytest.mark.browser

# ms: an update over the event stream arrives well within this, even on a loaded CI
# machine (the wait ends as soon as it arrives)
LIVE = 30_000
MARKER = "window.__stillTheSamePage"


@dataclass(frozen=True)
class Morning:
    url: str
    qc: QueueClinic


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Morning]:
    """A server on its own SQLite database: Dr. Ada and Dr. Bo at Main Street, three
    patients booked with Dr. Ada this morning (Ann, Ben, Cleo), three more patients."""
    root = tmp_path_factory.mktemp("queue-morning")
    copy_sqlite_database(sqlite_template, root / "queue.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'queue.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=6, appointments=3))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        yield Morning(base, qc)


async def display_link(morning: Morning) -> str:
    """The administrator makes a display for the waiting room (through the API)."""
    async with httpx.AsyncClient(base_url=morning.url, timeout=30) as client:
        token = await client.post(
            "/api/v1/auth/token",
            data={"username": morning.qc.admin_email, "password": PASSWORD},
        )
        assert token.status_code == 200, token.text
        made = await client.post(
            "/api/v1/queue/displays",
            json={"location_id": str(morning.qc.location_id), "name": "Waiting room TV"},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["link"])


async def sign_in(page: Page, morning: Morning, email: str, then: str) -> None:
    await page.goto(morning.url + "/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    # Signed in: the menu has the queue (on a phone it is behind "Menu", so attached
    # rather than visible).
    await expect(nav.locator("a[href='/queue']").first).to_be_attached()
    await page.goto(morning.url + then)


async def mark(page: Page) -> None:
    """A marker on the window: gone if the page is ever reloaded."""
    await page.evaluate(f"{MARKER} = true")


async def still_marked(page: Page) -> bool:
    return bool(await page.evaluate(f"{MARKER} === true"))


async def live(page: Page) -> None:
    await expect(page.locator("[data-live-status]").first).to_have_text("Live", timeout=LIVE)


async def test_a_whole_morning_live_on_every_screen(browser: Browser, morning: Morning) -> None:
    contexts: list[BrowserContext] = []
    try:
        await run_the_morning(browser, morning, contexts)
    finally:
        for context in contexts:
            await context.close()


async def run_the_morning(
    browser: Browser, morning: Morning, contexts: list[BrowserContext]
) -> None:
    tv_link = await display_link(morning)

    # The front desk opens the queue; the waiting-room TV opens its link (no sign-in).
    desk = await new_page(browser, contexts, viewport={"width": 1440, "height": 1000})
    await sign_in(desk, morning, morning.qc.desk_email, "/queue")
    await expect(desk.get_by_role("heading", name="Check in")).to_be_visible()
    await live(desk)
    await mark(desk)
    tv = await new_page(browser, contexts, viewport={"width": 1920, "height": 1080})
    await tv.goto(tv_link)
    await expect(tv.get_by_role("heading", name="Now serving")).to_be_visible()
    await live(tv)
    await mark(tv)
    # Sound needs a first touch; the screen asks for it once.
    await tv.get_by_role("button", name="Tap to turn on sound").click()
    await expect(tv.locator("[data-sound]")).to_have_text("Sound on")

    # Booked patients arrive: one click each. The first gets their status link.
    await desk.get_by_role("button", name=re.compile(r"Check in Ann Queuea")).click()
    result = desk.locator("#q-result")
    await expect(result).to_contain_text("M-001")
    status_link = await result.locator("[data-status-link]").get_attribute("href")
    assert status_link and status_link.startswith(morning.url + "/v/")
    await expect(result.locator("img.q-qr")).to_be_visible()
    await snap(desk, "queue-desk-checked-in")
    await desk.get_by_role("button", name=re.compile(r"Check in Ben Queueb")).click()
    await expect(result).to_contain_text("M-002")
    await desk.get_by_role("button", name=re.compile(r"Check in Cleo Queuec")).click()
    await expect(result).to_contain_text("M-003")

    # The patient follows their place on their phone.
    phone = await new_page(
        browser,
        contexts,
        **PHONE_CONTEXT,
    )
    await phone.goto(status_link)
    status = phone.locator("#pub-status")
    await expect(status).to_contain_text("M-001")
    await expect(status).to_contain_text("You are next")
    await expect(status).to_contain_text("estimated wait")
    await live(phone)
    await mark(phone)
    await snap(phone, "queue-patient-waiting")

    # A walk-in, found by typing, for whoever is free first.
    walk_in = desk.locator("#q-walkin")
    await walk_in.get_by_label("Patient").press_sequentially("Queuef", delay=30)
    choice = walk_in.get_by_role("radio", name=re.compile("Queuef, Finn"))
    await expect(choice).to_be_visible()
    await choice.check()
    await walk_in.get_by_role("button", name="Check in walk-in").click()
    await expect(result).to_contain_text("M-004")
    walk_ins = desk.locator("section.q-col-walkins")
    await expect(walk_ins).to_contain_text("Finn Queuef")

    # Finn is over 80: priority, with the reason.
    await walk_ins.locator("details.q-more summary").first.click()
    priority = walk_ins.locator("form.q-act", has=desk.get_by_role("button", name="Set priority"))
    await priority.get_by_role("combobox").select_option(label="Priority")
    await priority.get_by_role("textbox", name=re.compile("Reason")).fill("over 80")
    await priority.get_by_role("button", name="Set priority").click()
    await expect(walk_ins).to_contain_text("Priority: over 80")

    # Cleo could not wait.
    cleo = desk.locator("li.q-line", has_text="Cleo Queuec")
    await cleo.locator("details.q-more summary").click()
    await cleo.get_by_role("button", name="Left without being seen").click()
    await expect(desk.locator("li.q-line", has_text="Cleo Queuec")).to_have_count(0)
    await expect(desk.locator(".q-counts")).to_contain_text(re.compile(r"Left unseen\s*1"))
    await snap(desk, "queue-desk")

    # The doctor calls the next patient to their room.
    doctor = await new_page(browser, contexts, viewport={"width": 1280, "height": 900})
    await sign_in(doctor, morning, morning.qc.doctor_email, "/queue/mine")
    await expect(doctor.get_by_role("heading", name=re.compile("My queue"))).to_be_visible()
    await doctor.get_by_label("Your room").select_option("Room 3")
    await doctor.get_by_role("button", name=re.compile("Call next")).click()
    mine = doctor.locator("#q-mine")
    await expect(mine).to_contain_text("Called to Room 3")
    await expect(mine).to_contain_text("Ann Queuea")
    await snap(doctor, "queue-doctor-called")

    # Everyone sees it, without reloading.
    now = tv.locator(".tv-now")
    await expect(now).to_contain_text("M-001", timeout=LIVE)
    await expect(now).to_contain_text("Room 3")
    await expect(now).to_have_class(re.compile("tv-flash"))  # a new call: chime and flash
    await expect(tv.locator(".tv-next")).to_contain_text("M-002")
    await expect(tv.locator("body")).not_to_contain_text("Queuea")  # tokens, never names
    await snap(tv, "queue-display")
    await expect(status).to_contain_text("Please go to Room 3 now", timeout=LIVE)
    await snap(phone, "queue-patient-called")
    ada = desk.locator("section.q-col", has=desk.get_by_role("heading", name="Dr. Ada"))
    await expect(ada.locator(".q-card-called")).to_contain_text("M-001", timeout=LIVE)

    # Start: on to the consultation it opened; the queue sees the patient in the room.
    await doctor.get_by_role("button", name="Start consultation").click()
    await doctor.wait_for_url(re.compile(r"/encounters/[0-9a-f-]+$"))
    await expect(doctor.get_by_role("heading", name=re.compile("Ann Queuea"))).to_be_visible()
    await expect(status).to_contain_text("You are with the doctor", timeout=LIVE)
    await expect(ada.locator(".q-state")).to_contain_text("In consultation", timeout=LIVE)
    # Finishing the consultation finishes the visit: back to the queue for the next one.
    await doctor.get_by_role("button", name="Finish consultation").click()
    await doctor.wait_for_url(re.compile(r"/queue/mine"))
    await expect(doctor.locator("#flash-messages")).to_contain_text("Consultation finished")
    await expect(status).to_contain_text("Your visit is finished", timeout=LIVE)
    await expect(desk.locator(".q-counts")).to_contain_text(re.compile(r"Done today\s*1"))

    # Back to the queue: the next one, to the room the doctor used last (kept on the server).
    await doctor.goto(morning.url + "/queue/mine")
    await expect(doctor.get_by_label("Your room")).to_have_value("Room 3")
    await doctor.get_by_role("button", name=re.compile("Call next")).click()
    await expect(mine).to_contain_text("Ben Queueb")
    await expect(now).to_contain_text("M-002", timeout=LIVE)
    await expect(tv.locator(".tv-recent")).to_contain_text("M-001", timeout=LIVE)
    await expect(ada.locator(".q-card-called")).to_contain_text("M-002", timeout=LIVE)

    # The screens that were open all morning were never reloaded.
    for page in (desk, tv, phone):
        assert await still_marked(page)
    for page in (desk, tv, phone, doctor):
        assert problems(page) == [], problems(page)


async def test_without_the_event_stream_the_screens_poll(
    browser: Browser, morning: Morning
) -> None:
    """A network that cannot hold the stream: the patient's page and the display still
    update, every 30 seconds (the browser's clock is run forward here)."""
    tv_link = await display_link(morning)
    async with httpx.AsyncClient(base_url=morning.url, timeout=30) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": morning.qc.desk_email, "password": PASSWORD}
        )
        desk = {"Authorization": f"Bearer {token.json()['access_token']}"}
        visit = await client.post(
            "/api/v1/queue/walk-ins",
            json={
                "patient_id": str(morning.qc.patient_ids[3]),
                "location_id": str(morning.qc.location_id),
                "provider_id": str(morning.qc.other_provider_id),
            },
            headers=desk,
        )
        assert visit.status_code == 201, visit.text
        contexts: list[BrowserContext] = []
        try:
            pages = []
            for link, size in (
                (visit.json()["status_link"], {"width": 390, "height": 844}),
                (tv_link, {"width": 1920, "height": 1080}),
            ):
                page = await new_page(browser, contexts, viewport=size)
                await page.clock.install()
                await page.route("**/api/v1/events*", lambda route: route.abort())
                await page.goto(link)
                await expect(page.locator("[data-live-status]")).to_contain_text("every 30 s")
                await mark(page)
                pages.append(page)
            phone, tv = pages
            await expect(phone.locator("#pub-status")).to_contain_text("You are next")
            token_text = visit.json()["token"]
            called = await client.post(
                f"/api/v1/queue/visits/{visit.json()['id']}/call",
                json={"room": "Room 5"},
                headers={**desk, **ANY_VERSION},
            )
            assert called.status_code == 200, called.text
            for page in pages:
                await page.clock.fast_forward("00:31")
            await expect(phone.locator("#pub-status")).to_contain_text("Please go to Room 5 now")
            await expect(tv.locator(".tv-now")).to_contain_text(token_text)
            await expect(tv.locator(".tv-now")).to_contain_text("Room 5")
            for page in pages:
                assert await still_marked(page)
                assert [p for p in problems(page) if "ERR_FAILED" not in p] == []
        finally:
            for context in contexts:
                await context.close()


async def test_the_front_desk_checks_in_from_the_home_page_on_a_phone(
    browser: Browser, morning: Morning
) -> None:
    """The receptionist's home on a 390 px phone: one tap checks a booked patient in,
    the token and QR code show, and today's list moves on by itself."""
    qc = morning.qc
    async with httpx.AsyncClient(base_url=morning.url, timeout=30) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": qc.admin_email, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        booked = await client.post(
            "/api/v1/appointments",
            json={
                "patient_id": str(qc.patient_ids[4]),
                "provider_id": str(qc.provider_id),
                "location_id": str(qc.location_id),
                "type_id": str(qc.consultation_id),
                "starts_at": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
                "overbook": True,
                "overbook_reason": "squeezed in",
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert booked.status_code == 201, booked.text
    contexts: list[BrowserContext] = []
    try:
        phone = await new_page(
            browser,
            contexts,
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
        )
        await sign_in(phone, morning, qc.desk_email, "/")
        card = phone.locator("#home-desk")
        eve = card.locator("li.home-line", has_text="Eve Queuee")
        await expect(eve).to_contain_text("Booked")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await snap(phone, "home-desk-phone")

        await eve.get_by_role("button", name=re.compile(r"Check in Eve Queuee")).click()
        result = phone.locator("#q-result")
        await expect(result.locator(".q-result-token")).to_have_text(re.compile(r"M-\d{3}"))
        await expect(result.locator("img.q-qr")).to_be_visible()
        # The card reloads itself: Eve now waits with her token, nothing left to tap.
        await expect(eve).to_contain_text(re.compile(r"Waiting · M-\d{3}"), timeout=LIVE)
        await expect(eve.get_by_role("button")).to_have_count(0)
        await expect(result.locator("img.q-qr")).to_be_visible()  # still there for her
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await snap(phone, "home-desk-phone-checked-in")
        assert problems(phone) == []
    finally:
        for context in contexts:
            await context.close()
