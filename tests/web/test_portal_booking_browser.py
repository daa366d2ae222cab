"""A patient, invited to the portal by the clinic, books a vaccination online and
cancels it again, in headless Chromium against a real `clinicdesk serve`."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Dialog, Page, expect

from tests.support.patients import register_over_http
from tests.web.conftest import LIVE_PASSWORD, LiveClinic
from tests.web.test_browser import snap
from tests.web.test_calendar_browser import calendar_clinic, token

pytestmark = pytest.mark.browser

PATIENT_EMAIL = "piper.portal@example.org"
PATIENT_PASSWORD = "lantern orchard pebble 42"


def invitation_token(mail_dir: Path, address: str, *, wait_seconds: float = 60) -> str:
    """The link of the invitation mailed to ``address``. Mail is sent by a job right
    after the invitation commits, so it may take a moment to appear (on a busy CI
    machine, many seconds: the loop ends as soon as the mail is there)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = message_from_bytes(path.read_bytes())
            if message["To"] == address:
                body = message.get_payload(decode=True)
                assert isinstance(body, bytes)
                found = re.search(r"/invitations/accept\?token=([\w-]+)", body.decode())
                assert found, body
                return found.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no invitation mailed to {address}")
        time.sleep(0.1)


async def invite_patient(clinic_url: str) -> None:
    async with httpx.AsyncClient(base_url=clinic_url, timeout=30) as client:
        doctor = {"Authorization": f"Bearer {await token(client, 'cal-doctor@example.org')}"}
        patient = await register_over_http(
            client,
            headers=doctor,
            given_name="Piper",
            family_name="Portal",
            birth_date="1988-09-12",
            email=PATIENT_EMAIL,
        )
        invited = await client.post(
            f"/api/v1/patients/{patient['id']}/portal-invitation", json={}, headers=doctor
        )
        assert invited.status_code == 201, invited.text


async def test_a_patient_books_and_cancels_online(page: Page, live_clinic: LiveClinic) -> None:
    clinic = await calendar_clinic(live_clinic)
    await invite_patient(clinic.url)
    raw = invitation_token(live_clinic.data_dir / "mail", PATIENT_EMAIL)

    await page.goto(f"{clinic.url}/invitations/accept?token={raw}")
    await page.get_by_label("New password", exact=True).fill(PATIENT_PASSWORD)
    await page.get_by_label("New password again").fill(PATIENT_PASSWORD)
    await page.get_by_role("button", name="Set my password").click()

    await page.goto(clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(PATIENT_EMAIL)
    await page.get_by_label("Password").fill(PATIENT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=re.compile("Hello, Piper"))).to_be_visible()

    await page.get_by_role("button", name="My appointments").click()
    await expect(page.get_by_role("heading", name="My appointments")).to_be_visible()
    await page.get_by_label("Visit").select_option(label="Vaccination (15 min)")
    await page.get_by_label("Where").select_option(label="High Street")
    # The day after the calendar test's day, so each test sees only its own bookings.
    await page.get_by_label("From").fill((clinic.day + timedelta(days=1)).isoformat())
    await page.get_by_role("button", name="Find times").click()
    await expect(page.get_by_text("Pick a time")).to_be_visible()
    await snap(page, "portal-slots")

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    first = page.locator("#slot-choices button.slot").first
    when = (await first.inner_text()).splitlines()[0].strip()
    await first.click()
    await expect(page.get_by_text("Your appointment is booked.")).to_be_visible()
    upcoming = page.locator("table tbody tr", has_text="Vaccination")
    await expect(upcoming).to_contain_text(when)
    await snap(page, "portal-booked")

    await upcoming.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_text("Your appointment is cancelled.")).to_be_visible()
    # No longer coming up: it is listed with the past ones, its status in words.
    await expect(page.locator("table tbody tr", has_text="Vaccination")).to_have_count(0)
    await expect(page.locator("li", has_text="Cancelled")).to_contain_text(when)
    assert LIVE_PASSWORD != PATIENT_PASSWORD
