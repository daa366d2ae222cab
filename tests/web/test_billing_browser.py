"""Checkout in headless Chromium against a real `clinicdesk serve`: Dr. Ada finishes a
consultation (its invoice is drafted with the visit type's fee); the front desk's home
lists the patient at checkout, one click opens the visit's checkout panel with the draft,
where reception adds an item of the fee schedule, issues the invoice and sees its number
and what is owed; then the same on a phone, from the patient's chart."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.support.consultation import bearer
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import PHONE_CONTEXT, new_page
from tests.web.test_browser import problems
from tests.web.test_consultation_browser import snap

pytestmark = pytest.mark.browser

YEAR = datetime.now(UTC).year


@dataclass(frozen=True)
class Clinic:
    url: str
    qc: QueueClinic


async def finished_consultation(base: str, qc: QueueClinic, patient: int) -> None:
    """The fee schedule (a consultation fee on the visit type, an ECG), the patient
    checked in for a consultation with Dr. Ada, seen and finished."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        desk = await bearer(client, qc.desk_email)
        for body in (
            {
                "code": "CONS15",
                "name": "Consultation",
                "unit_price": 6000,
                "active_from": "2020-01-01",
                "appointment_type_id": str(qc.consultation_id),
            },
            {"code": "ECG", "name": "Electrocardiogram", "unit_price": 2500},
        ):
            made = await client.post("/api/v1/fee-schedule", json=body, headers=desk)
            assert made.status_code in (201, 409), made.text  # 409: the second patient
        visit = await client.post(
            "/api/v1/queue/walk-ins",
            json={
                "patient_id": str(qc.patient_ids[patient]),
                "location_id": str(qc.location_id),
                "provider_id": str(qc.provider_id),
                "type_id": str(qc.consultation_id),
            },
            headers=desk,
        )
        assert visit.status_code == 201, visit.text
        doctor = await bearer(client, qc.doctor_email)
        started = await client.post(
            f"/api/v1/queue/visits/{visit.json()['id']}/start",
            headers={**doctor, "If-Match": visit.headers["ETag"]},
        )
        assert started.status_code == 200, started.text
        listed = await client.get(
            f"/api/v1/patients/{qc.patient_ids[patient]}/encounters", headers=doctor
        )
        encounter = listed.json()["items"][0]
        finished = await client.post(
            f"/api/v1/encounters/{encounter['id']}/finish",
            headers={**doctor, "If-Match": f'W/"{encounter["version"]}"'},
        )
        assert finished.status_code == 200, finished.text


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Clinic]:
    root = tmp_path_factory.mktemp("checkout")
    copy_sqlite_database(sqlite_template, root / "clinic.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'clinic.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=2))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        asyncio.run(finished_consultation(base, qc, 0))
        asyncio.run(finished_consultation(base, qc, 1))
        yield Clinic(base, qc)


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    try:
        yield opened
    finally:
        for context in opened:
            await context.close()


async def sign_in_desk(page: Page, clinic: Clinic, path: str) -> None:
    await page.goto(clinic.url + path)
    await page.get_by_label("E-mail address").fill(clinic.qc.desk_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def check_out(page: Page, number: str) -> None:
    """On the chart: the consultation's draft in its panel; add an ECG, issue."""
    panel = page.locator(".checkout-panel")
    await expect(panel.get_by_role("heading", name=re.compile("Checkout"))).to_be_visible()
    await expect(panel.get_by_role("cell", name="Consultation CONS15")).to_be_visible()
    await expect(panel.get_by_role("button", name="Issue invoice · 60.00 USD")).to_be_visible()
    await panel.get_by_label("Add an item").fill("ECG")
    await panel.get_by_role("button", name="Add", exact=True).click()
    await expect(panel.get_by_text("Electrocardiogram added.")).to_be_visible()
    await panel.get_by_role("button", name="Issue invoice · 85.00 USD").click()
    await expect(panel.get_by_text(f"Issued as {number}.")).to_be_visible()
    await expect(panel.locator(".invoice-number")).to_have_text(number)
    await expect(panel.locator(".invoice-due")).to_contain_text("85.00 USD")
    await expect(panel.get_by_role("button", name=re.compile("Issue"))).to_have_count(0)


async def test_reception_checks_out_a_finished_visit(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic
) -> None:
    page = await new_page(browser, contexts)
    await sign_in_desk(page, clinic, "/")
    # Home: who is at checkout; one click opens the visit's checkout panel.
    card = page.locator("#home-checkout")
    await expect(card.get_by_role("heading", name="To check out")).to_be_visible()
    await snap(page, "billing-home-checkout")
    await card.get_by_role("link", name=re.compile("Ann Queuea")).click()
    await page.locator(".checkout-panel").wait_for()
    await snap(page, "billing-checkout-page")
    await check_out(page, f"INV-{YEAR}-000001")
    await snap(page, "billing-checkout-issued")
    # The invoice list shows it with what is due; its page is read-only.
    await page.get_by_role("link", name="Invoices").first.click()
    await page.get_by_role("link", name=f"INV-{YEAR}-000001").click()
    await expect(page.get_by_role("heading", name=re.compile(f"INV-{YEAR}-000001"))).to_be_visible()
    await expect(page.get_by_text("Add to the invoice")).to_have_count(0)
    assert problems(page) == []

    # On a phone, from the patient's chart: the same panel in its invoices section.
    phone = await new_page(browser, contexts, **PHONE_CONTEXT)
    await sign_in_desk(phone, clinic, f"/patients/{clinic.qc.patient_ids[1]}")
    await phone.locator("#invoices .checkout-panel").wait_for()
    await check_out(phone, f"INV-{YEAR}-000002")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    await snap(phone, "billing-checkout-phone")
    assert problems(phone) == []
