"""A patient sees the invoice the front desk issued, their balance, and downloads the
PDF from the portal, in headless Chromium against a real `clinicdesk serve`."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from playwright.async_api import Page, expect
from pypdf import PdfReader

from tests.support.patients import register_over_http
from tests.web.conftest import LiveClinic
from tests.web.test_browser import snap
from tests.web.test_calendar_browser import calendar_clinic, token
from tests.web.test_portal_booking_browser import invitation_token

pytestmark = pytest.mark.browser

PATIENT_EMAIL = "ivy.invoices@example.org"
PATIENT_PASSWORD = "copper kettle meadow 57"


async def invoiced_patient(clinic_url: str) -> str:
    """A patient invited to the portal with one issued invoice (98.50); its number."""
    async with httpx.AsyncClient(base_url=clinic_url, timeout=30) as client:
        desk = {"Authorization": f"Bearer {await token(client, 'cal-desk@example.org')}"}
        patient = await register_over_http(
            client,
            headers=desk,
            given_name="Ivy",
            family_name="Invoices",
            birth_date="1979-03-02",
            email=PATIENT_EMAIL,
        )
        made = await client.post(
            "/api/v1/invoices",
            json={"patient_id": patient["id"], "lines": [{"name": "Check-up", "unit_price": 9850}]},
            headers=desk,
        )
        assert made.status_code == 201, made.text
        issued = await client.post(
            f"/api/v1/invoices/{made.json()['id']}/issue",
            headers={**desk, "If-Match": made.headers["ETag"]},
        )
        assert issued.status_code == 200, issued.text
        invited = await client.post(
            f"/api/v1/patients/{patient['id']}/portal-invitation", json={}, headers=desk
        )
        assert invited.status_code == 201, invited.text
        return str(issued.json()["number"])


async def test_a_patient_sees_and_downloads_their_invoice(
    page: Page, live_clinic: LiveClinic
) -> None:
    clinic = await calendar_clinic(live_clinic)
    number = await invoiced_patient(clinic.url)
    raw = invitation_token(live_clinic.data_dir / "mail", PATIENT_EMAIL)
    await page.goto(f"{clinic.url}/invitations/accept?token={raw}")
    await page.get_by_label("New password", exact=True).fill(PATIENT_PASSWORD)
    await page.get_by_label("New password again").fill(PATIENT_PASSWORD)
    await page.get_by_role("button", name="Set my password").click()
    await page.goto(clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(PATIENT_EMAIL)
    await page.get_by_label("Password").fill(PATIENT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=re.compile("Hello, Ivy"))).to_be_visible()

    await page.get_by_role("button", name="My invoices").click()
    await expect(page.get_by_role("heading", name="My invoices")).to_be_visible()
    await expect(page.locator(".balance-amount")).to_have_text("$98.50")
    row = page.locator("table tbody tr", has_text=number)
    await expect(row).to_contain_text("$98.50")
    await snap(page, "portal-invoices")

    async with page.expect_download() as waiting:
        await row.get_by_role("link", name=f"Download invoice {number} (PDF)").click()
    download = await waiting.value
    assert download.suggested_filename == f"invoice-{number}.pdf"
    path = await download.path()
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert number in text and "Ivy Invoices" in text and "Amount due $98.50" in text
