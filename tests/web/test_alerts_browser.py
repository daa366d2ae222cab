"""The front desk's alert bell in headless Chromium against a real `clinicdesk serve`:
an alert raised while a receptionist has a page open (a waitlist offer accepted, through
the API) changes the bell's count without a reload, on a plain page (the bell's own
stream) and on a live screen (the queue's stream, shared); the alerts page lists it,
opening it marks it read, and "Mark all read" clears the count."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.support.http import ANY_VERSION
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import new_page
from tests.web.test_browser import problems, snap

pytestmark = pytest.mark.browser

LIVE = 30_000  # ms: an event over the stream arrives well within this
MARKER = "window.__stillTheSamePage"


@dataclass(frozen=True)
class Desk:
    url: str
    qc: QueueClinic


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Desk]:
    """A server on its own SQLite database: the queue clinic (Dr. Ada, Dr. Bo, a
    receptionist), four patients, nothing booked."""
    root = tmp_path_factory.mktemp("alerts-desk")
    copy_sqlite_database(sqlite_template, root / "alerts.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'alerts.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=4))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        yield Desk(base, qc)


async def slot_taken(desk: Desk, patients: tuple[int, int], days_ahead: int) -> None:
    """Through the API, as another receptionist would: a booking is cancelled, its time
    offered to a waiting patient, and the offer accepted (the front desk's alert)."""
    qc = desk.qc
    starts = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
        minute=0, second=0, microsecond=0
    )
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": qc.desk_email, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        booked = await client.post(
            "/api/v1/appointments",
            json={
                "patient_id": str(qc.patient_ids[patients[0]]),
                "provider_id": str(qc.provider_id),
                "location_id": str(qc.location_id),
                "type_id": str(qc.consultation_id),
                "starts_at": starts.isoformat(),
            },
        )
        assert booked.status_code == 201, booked.text
        waiting = await client.post(
            "/api/v1/waitlist",
            json={
                "patient_id": str(qc.patient_ids[patients[1]]),
                "type_id": str(qc.consultation_id),
                "location_id": str(qc.location_id),
                "earliest": (starts - timedelta(days=1)).date().isoformat(),
                "latest": (starts + timedelta(days=1)).date().isoformat(),
            },
        )
        assert waiting.status_code == 201, waiting.text
        cancelled = await client.post(
            f"/api/v1/appointments/{booked.json()['id']}/cancel",
            json={"reason": "Patient called"},
            headers=ANY_VERSION,
        )
        assert cancelled.status_code == 200, cancelled.text
        accepted = await client.post(f"/api/v1/waitlist/{waiting.json()['id']}/accept")
        assert accepted.status_code == 201, accepted.text


async def sign_in(page: Page, desk: Desk, then: str) -> None:
    await page.goto(desk.url + "/login")
    await page.get_by_label("E-mail address").fill(desk.qc.desk_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#alert-bell a.alert-bell")).to_be_visible()
    await page.goto(desk.url + then)


def count(page: Page) -> Locator:
    return page.locator("#alert-bell .alert-count")


async def test_the_bell_counts_an_alert_live_and_the_page_clears_it(
    browser: Browser, desk: Desk
) -> None:
    contexts: list[BrowserContext] = []
    try:
        page = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
        await sign_in(page, desk, "/patients")
        bell = page.locator("#alert-bell")
        await expect(bell.get_by_text("none unread")).to_be_attached()
        await expect(count(page)).to_have_count(0)
        await page.evaluate(f"{MARKER} = true")

        # Raised elsewhere while the page is open: the count appears, no reload.
        await slot_taken(desk, (0, 1), days_ahead=2)
        await expect(count(page)).to_have_text("1", timeout=LIVE)
        assert await page.evaluate(f"{MARKER} === true")
        await snap(page, "alerts-bell-1366")

        # The list: the new alert, unread (bold, and the word), newest first.
        await bell.get_by_role("link").click()
        await expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
        item = page.locator(".alert-item").first
        await expect(item).to_have_class("alert-item alert-unread")
        await expect(item).to_contain_text("Waitlist slot taken: Ben Queueb")
        await expect(item).to_contain_text("Unread")
        await snap(page, "alerts-page-1366")
        # Opening it goes where it points, marked read: the bell empties.
        await item.get_by_role("link").click()
        await expect(page).to_have_url(re.compile(r"/calendar/appointments/[0-9a-f-]{36}$"))
        await expect(count(page)).to_have_count(0)
        await page.goto(desk.url + "/alerts")
        await expect(page.locator(".alert-unread")).to_have_count(0)

        # On a live screen (the queue holds the page's stream) the bell shares it.
        await page.goto(desk.url + "/queue")
        await expect(page.locator("[data-live-status]").first).to_have_text("Live", timeout=LIVE)
        await page.evaluate(f"{MARKER} = true")
        await slot_taken(desk, (2, 3), days_ahead=3)
        await expect(count(page)).to_have_text("1", timeout=LIVE)
        assert await page.evaluate(f"{MARKER} === true")
        await page.goto(desk.url + "/alerts")
        await expect(page.locator(".alert-unread")).to_have_count(1)
        await page.get_by_role("button", name="Mark all read").click()
        await expect(page.get_by_text("1 alert marked read.")).to_be_visible()
        await expect(page.locator(".alert-unread")).to_have_count(0)
        await expect(count(page)).to_have_count(0)
        assert problems(page) == []
    finally:
        for context in contexts:
            await context.close()
