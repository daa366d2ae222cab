"""Patient messaging's admin pages in headless Chromium against a real `clinicdesk serve`
whose text messages go to a fake Twilio (issue 17's "done when"): the administrator
edits the SMS test message, sees the preview follow the typing with sample values, saves
it, sends a test to a phone number, the fake provider receives exactly the saved words,
and when the provider's signed delivery receipt reaches the server the page shows
"Delivered" without a reload. The connection test answers in place, and the messages
log, settings and templates pages are seen at desktop and phone widths."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.notifications.fake_twilio import SMS_FROM, FakeTwilio, running_fake_twilio
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import PHONE_CONTEXT, new_page
from tests.web.test_browser import problems
from tests.web.test_consultation_browser import snap

pytestmark = pytest.mark.browser

TEXT = "{{ clinic_name }}: this is our browser test. Reply STOP to opt out."
PHONE = "+1 617 201 3344"


@dataclass(frozen=True)
class Clinic:
    url: str
    qc: QueueClinic
    fake: FakeTwilio


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Clinic]:
    root = tmp_path_factory.mktemp("messaging")
    copy_sqlite_database(sqlite_template, root / "clinic.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'clinic.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=1))
    with running_fake_twilio() as fake:
        env = {
            "CLINICDESK_DATABASE_URL": url,
            "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
            "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
            "CLINICDESK_TEXT_PROVIDER": "twilio",
            "CLINICDESK_TWILIO_API_URL": fake.url,
            "CLINICDESK_TWILIO_ACCOUNT_SID": fake.account_sid,
            "CLINICDESK_TWILIO_AUTH_TOKEN": fake.auth_token,
            "CLINICDESK_TEXT_FROM": SMS_FROM,
            # The status callback goes to the address the server is served at (its
            # public address when no CLINICDESK_PUBLIC_URL is set).
        }
        with running_server(root / "data", env=env) as base:
            yield Clinic(base, qc, fake)


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    try:
        yield opened
    finally:
        for context in opened:
            await context.close()


async def sign_in_admin(page: Page, clinic: Clinic, path: str) -> None:
    await page.goto(clinic.url + path)
    await page.get_by_label("E-mail address").fill(clinic.qc.admin_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_the_admin_edits_previews_saves_and_sees_a_test_delivered_live(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic
) -> None:
    page = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    await sign_in_admin(page, clinic, "/admin/notifications/templates")
    await expect(page.get_by_role("heading", name="Message templates")).to_be_visible()
    await snap(page, "notifications-templates-1366")
    test_message = page.get_by_role("article").filter(has_text="Test message")
    await (
        test_message.get_by_role("row")
        .filter(has_text="English")
        .filter(has_text="SMS")
        .get_by_role("link", name="SMS")
        .click()
    )
    await expect(
        page.get_by_role("heading", name=re.compile(r"^Test message SMS · en"))
    ).to_be_visible()
    # The heading shows while the page is still parsed; htmx binds the fields' triggers
    # once the document is loaded, and typing before that sends no preview.
    await page.wait_for_load_state("load")

    # The preview follows the typing, filled in with sample values.
    preview = page.locator("#nt-preview")
    await page.get_by_label("Text", exact=True).fill(TEXT)
    await expect(preview).to_contain_text("Riverside Clinic: this is our browser test.")
    await page.get_by_label("Text", exact=True).fill("Hi {{ nobody }}")
    await expect(preview).to_contain_text("nobody")
    await expect(preview.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Text", exact=True).fill(TEXT)
    await expect(preview).to_contain_text("Riverside Clinic: this is our browser test.")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text("The template was saved")).to_be_visible()
    await expect(page.locator("h1").get_by_text("Customized")).to_be_visible()
    await snap(page, "notifications-template-1366")

    # A test to a phone number: the fake provider gets the saved words.
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_role("button", name="Send a test").click()
    result = page.locator(".nt-test-result").first
    await expect(result).to_contain_text("+16172013344")
    received = await asyncio.to_thread(clinic.fake.wait_for_messages, 1, 60.0)
    assert received[-1].to == "+16172013344"
    assert received[-1].body == "Queue Clinic: this is our browser test. Reply STOP to opt out."
    await expect(result.locator(".badge")).to_have_text("Sent")
    # Twilio's signed delivery receipt reaches the server; the page follows, no reload.
    answer = await clinic.fake.deliver(received[-1].sid, "delivered")
    assert answer.status_code == 204, answer.text
    await expect(result.locator(".badge")).to_have_text("Delivered")
    await snap(page, "notifications-test-delivered-1366")

    # The connection test answers in place.
    await page.goto(clinic.url + "/admin/notifications")
    await page.get_by_role("button", name="Test SMS").click()
    await expect(page.locator("#check-sms")).to_contain_text("Twilio answered")
    await snap(page, "notifications-settings-1366")

    # The log lists the test, delivered; it opens with its text.
    await page.goto(clinic.url + "/admin/messages")
    row = page.get_by_role("row").filter(has_text="Test message")
    await expect(row.locator(".badge")).to_have_text("Delivered")
    await snap(page, "notifications-messages-1366")
    await row.get_by_role("link").click()
    await expect(page.locator(".nt-text")).to_have_text(received[-1].body)
    assert problems(page) == []


async def test_the_pages_fit_a_phone(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic
) -> None:
    page = await new_page(browser, contexts, **PHONE_CONTEXT)
    await sign_in_admin(page, clinic, "/admin/messages")
    await expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    for path, heading in (
        ("/admin/messages", "Messages"),
        ("/admin/notifications", "Patient messages"),
        ("/admin/notifications/templates", "Message templates"),
        ("/admin/notifications/templates/reminder/sms/es", re.compile(r"^Reminder SMS · es")),
    ):
        await page.goto(clinic.url + path)
        await expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} is {wide} px wide on a 390 px phone"
        await snap(page, "notifications" + path.replace("/", "-") + "-390")
    assert problems(page) == []
