"""Checkout in headless Chromium against a real `clinicdesk serve`: Dr. Ada finishes a
consultation (its invoice is drafted with the visit type's fee); the front desk's home
lists the patient at checkout, one click opens the visit's checkout panel with the draft,
where reception adds an item of the fee schedule, issues the invoice and sees its number
and what is owed, takes a part payment by card and cash for the rest, and prints the
receipt (its PDF's text read back); the billing user then refunds part of the card
payment with a reason and closes the day with a counted difference; the aging report
and the patient's own portal show what is still owed. Then the same checkout on a
phone, from the patient's chart (issue 16's "done when")."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from pypdf import PdfReader

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.patients.schemas import PatientUpdate
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.support.consultation import bearer
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import PHONE_CONTEXT, new_page
from tests.web.test_browser import problems
from tests.web.test_consultation_browser import snap
from tests.web.test_portal_booking_browser import invitation_token

pytestmark = pytest.mark.browser

YEAR = datetime.now(UTC).year


@dataclass(frozen=True)
class Clinic:
    url: str
    qc: QueueClinic
    billing_email: str
    mail_dir: Path


async def add_billing_user(url: str, qc: QueueClinic) -> str:
    """The clinic's billing clerk (billing:refund: refunds, voids, credit notes)."""
    email = f"billing-{uuid.uuid4().hex[:6]}@queue.example.org"
    db = create_database(url, pool_size=2)
    try:
        async with session_scope(db) as session:
            await scope_to_tenant(session, qc.organization_id)
            await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=qc.organization_id,
                email=email,
                full_name="Bea Billing",
                roles=[Role.BILLING],
                password=PASSWORD,
            )
    finally:
        await db.dispose()
    return email


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
    billing_email = asyncio.run(add_billing_user(url, qc))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        asyncio.run(finished_consultation(base, qc, 0))
        asyncio.run(finished_consultation(base, qc, 1))
        yield Clinic(base, qc, billing_email, root / "data" / "mail")


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    try:
        yield opened
    finally:
        for context in opened:
            await context.close()


async def sign_in_desk(page: Page, clinic: Clinic, path: str, email: str | None = None) -> None:
    await page.goto(clinic.url + path)
    await page.get_by_label("E-mail address").fill(email or clinic.qc.desk_email)
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


async def take_payment(page: Page, method: str, amount: str | None, said: str) -> None:
    """In the panel (or the invoice page): pick the method, type the amount (what is
    owed is prefilled when None), take it, see what was done."""
    form = page.locator(".pay-form")
    await form.get_by_label(method, exact=True).check()
    if amount is not None:
        await form.get_by_label(re.compile(r"^Amount")).fill(amount)
    await form.get_by_role("button", name="Take payment").click()
    await expect(page.get_by_text(said)).to_be_visible()


async def receipt_text(page: Page, link: str) -> str:
    """The receipt the link opens, fetched with the page's own cookies, as text."""
    href = await page.get_by_role("link", name=link).first.get_attribute("href")
    assert href is not None and href.endswith("/receipt.pdf"), href
    answer = await page.context.request.get(_absolute(page, href))
    assert answer.ok, await answer.text()
    assert answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(await answer.body()))
    text = " ".join(p.extract_text() or "" for p in reader.pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


async def portal_shows_balance(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic, balance: str
) -> None:
    """Ann gets an e-mail address and a portal invitation, signs in, and sees ``balance``."""
    ann, email, password = clinic.qc.patient_ids[0], "ann.queuea@example.org", "amber tide 4 lark"
    async with httpx.AsyncClient(base_url=clinic.url, timeout=30) as client:
        desk = await bearer(client, clinic.qc.desk_email)
        record = await client.get(f"/api/v1/patients/{ann}", headers=desk)
        fields = PatientUpdate.model_fields.keys() & record.json().keys()
        changed = await client.put(  # the demographics whole (PUT), with the address added
            f"/api/v1/patients/{ann}",
            json={**{k: record.json()[k] for k in fields}, "email": email},
            headers={**desk, "If-Match": record.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
        invited = await client.post(
            f"/api/v1/patients/{ann}/portal-invitation", json={}, headers=desk
        )
        assert invited.status_code == 201, invited.text
    token = invitation_token(clinic.mail_dir, email)
    page = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    await page.goto(f"{clinic.url}/invitations/accept?token={token}")
    await page.get_by_label("New password", exact=True).fill(password)
    await page.get_by_label("New password again").fill(password)
    await page.get_by_role("button", name="Set my password").click()
    await page.goto(clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="My invoices").click()
    await expect(page.locator(".balance-amount")).to_have_text(balance)
    await snap(page, "billing-portal-balance")
    assert problems(page) == []


def _absolute(page: Page, href: str) -> str:
    scheme, _, host = page.url.split("/", 3)[:3]
    return f"{scheme}//{host}{href}"


async def test_reception_checks_out_a_finished_visit(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic
) -> None:
    page = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    await sign_in_desk(page, clinic, "/")
    # Home: who is at checkout; one click opens the visit's checkout panel.
    card = page.locator("#home-checkout")
    await expect(card.get_by_role("heading", name="To check out")).to_be_visible()
    await snap(page, "billing-home-checkout")
    await card.get_by_role("link", name=re.compile("Ann Queuea")).click()
    await page.locator(".checkout-panel").wait_for()
    await snap(page, "billing-checkout-page")
    number = f"INV-{YEAR}-000001"
    await check_out(page, number)
    await snap(page, "billing-checkout-issued")

    # Take payment: what is owed is prefilled; 50.00 by card, then cash for the rest.
    panel = page.locator(".checkout-panel")
    await expect(panel.get_by_label(re.compile(r"^Amount"))).to_have_value("85.00")
    await panel.get_by_label(re.compile(r"^Reference")).fill("4242")
    await take_payment(page, "Card", "50.00", "Card 50.00 USD taken. Still owed: 35.00 USD.")
    await expect(panel.get_by_label(re.compile(r"^Amount"))).to_have_value("35.00")
    await expect(panel.locator(".invoice-due")).to_contain_text("35.00 USD")
    await snap(page, "billing-checkout-part-paid")
    await take_payment(page, "Cash", None, "Cash 35.00 USD taken.")
    await expect(panel.get_by_text("Issued · settled")).to_be_visible()
    await expect(panel.get_by_role("button", name="Take payment")).to_have_count(0)
    await snap(page, "billing-checkout-paid")
    # Print receipt: the latest payment's, as PDF.
    text = await receipt_text(page, "Print receipt")
    for expected in (
        "Receipt",
        "Ann Queuea",
        "Cash",
        "Amount received $35.00",
        f"{number} $35.00",
        "Balance after this payment $0.00",
    ):
        assert expected in text, (expected, text)
    assert problems(page) == []

    # The invoice page lists the payments; the front desk has no refund or void.
    await panel.get_by_role("link", name="The whole invoice").click()
    await expect(page.get_by_role("heading", name=re.compile(number))).to_be_visible()
    await expect(page.get_by_text("Add to the invoice")).to_have_count(0)
    payments = page.locator(".pay-list")
    await expect(payments.get_by_role("row")).to_have_count(3)  # the head and two payments
    await expect(payments.get_by_text("Queue receptionist").first).to_be_visible()
    await expect(page.locator("summary", has_text="Refund")).to_have_count(0)
    await expect(page.locator("summary", has_text="Void")).to_have_count(0)
    await snap(page, "billing-invoice-payments")
    assert problems(page) == []

    # The billing user refunds 10.00 of the card payment, with a reason.
    billing = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    invoice_path = "/" + page.url.split("/", 3)[3]
    await sign_in_desk(billing, clinic, invoice_path, clinic.billing_email)
    await expect(billing.get_by_role("heading", name=re.compile(number))).to_be_visible()
    refund = billing.locator("details", has=billing.get_by_label(re.compile("at most 50.00")))
    await refund.locator("summary").click()
    await refund.get_by_label(re.compile(r"^Amount")).fill("10.00")
    await refund.get_by_role("button", name="Refund by card").click()
    # The reason is required: the browser asks for it before anything is sent.
    assert await refund.get_by_label("Reason").evaluate("e => !e.validity.valid")
    await refund.get_by_label("Reason").fill("ECG not needed")
    await refund.get_by_role("button", name="Refund by card").click()
    await expect(billing.get_by_text("10.00 USD refunded.")).to_be_visible()
    await expect(billing.locator(".pay-list").get_by_text("Refunded 10.00")).to_be_visible()
    await expect(billing.locator(".pay-list").get_by_text("ECG not needed")).to_be_visible()
    await expect(billing.locator(".invoice-due")).to_contain_text("10.00 USD")
    await snap(billing, "billing-invoice-refunded")
    assert problems(billing) == []

    # On a phone, from the patient's chart: the same panel in its invoices section.
    phone = await new_page(browser, contexts, **PHONE_CONTEXT)
    await sign_in_desk(phone, clinic, f"/patients/{clinic.qc.patient_ids[1]}")
    await phone.locator("#invoices .checkout-panel").wait_for()
    await check_out(phone, f"INV-{YEAR}-000002")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    await snap(phone, "billing-checkout-phone")
    # The section's balance line follows every change of the panel without a reload.
    balance = phone.locator("#invoices .chart-balance")
    await expect(balance).to_contain_text("85.00 USD to pay")
    await take_payment(phone, "Card", "60.00", "Card 60.00 USD taken. Still owed: 25.00 USD.")
    await expect(balance).to_contain_text("25.00 USD to pay")
    await take_payment(phone, "Cash", "30.00", "5.00 USD more than was owed is kept")
    await expect(balance).to_contain_text("5.00 USD in the patient's favour")
    await expect(balance).to_contain_text("credit 5.00 USD")
    await expect(phone.locator("#invoices").get_by_text("Issued · settled")).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    await snap(phone, "billing-checkout-phone-paid")
    await phone.get_by_role("link", name="The whole invoice").click()
    await expect(phone.locator(".pay-list")).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the invoice page scrolls sideways on a phone ({width} px)"
    await snap(phone, "billing-invoice-phone")
    assert problems(phone) == []

    # The billing user closes the day: card as expected (50.00 - 10.00 refunded + 60.00
    # on the phone), the cash drawer 5.00 short of the 65.00 taken, with the reason.
    await billing.goto(clinic.url + "/billing/day-close")
    count = billing.locator(".day-count")
    await count.get_by_label("Card", exact=True).fill("100.00")
    await count.get_by_label("Cash", exact=True).fill("60.00")
    await count.get_by_label("Reason for Cash").fill("Change given twice")
    await count.get_by_role("button", name="Close the day").click()
    closing = billing.locator(".day-closing")
    await expect(closing).to_contain_text("Change given twice")
    await expect(closing.locator("tfoot")).to_contain_text("-5.00")
    await snap(billing, "billing-day-closed")
    assert problems(billing) == []

    # What is still owed after the refund, 10.00: in the aging report ...
    await billing.goto(clinic.url + "/billing/aging")
    await expect(billing.locator("tr", has_text="Ann Queuea").first).to_contain_text("10.00")
    assert problems(billing) == []
    # ... and in Ann's own portal.
    await portal_shows_balance(browser, contexts, clinic, "$10.00")
