"""Insurance claims in headless Chromium against a real `clinicdesk serve`: the billing
clerk issues an invoice for a patient with a policy, makes the draft claim from the
invoice page, submits it, records the payer's partial approval and a remittance on the
claim's page, and sees the invoice's balance and the claim's status on the pages (the
invoice, the claim, the claims list). Then the same pages at a phone's width."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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
from tests.web.test_billing_browser import add_billing_user
from tests.web.test_browser import problems
from tests.web.test_consultation_browser import snap

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Clinic:
    url: str
    qc: QueueClinic
    billing_email: str
    invoice_id: str


async def insured_draft(base: str, qc: QueueClinic) -> str:
    """Acme Health (added by the admin), Ann's primary policy with it (the desk), and a
    draft invoice for her: a 50.00 consultation with 20% VAT and a 10.00 dressing."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        admin = await bearer(client, qc.admin_email)
        payer = await client.post(
            "/api/v1/payers", json={"name": "Acme Health", "code": "ACME"}, headers=admin
        )
        assert payer.status_code == 201, payer.text
        desk = await bearer(client, qc.desk_email)
        ann = qc.patient_ids[0]
        cover = await client.post(
            f"/api/v1/patients/{ann}/insurance-policies",
            json={"payer_id": payer.json()["id"], "member_number": "MBR-778899"},
            headers=desk,
        )
        assert cover.status_code == 201, cover.text
        lines = [
            {
                "name": "Consultation",
                "unit_price": 5000,
                "tax_rates": [{"name": "VAT", "rate": "20"}],
            },
            {"name": "Dressing", "unit_price": 1000},
        ]
        made = await client.post(
            "/api/v1/invoices", json={"patient_id": str(ann), "lines": lines}, headers=desk
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Clinic]:
    root = tmp_path_factory.mktemp("claims")
    copy_sqlite_database(sqlite_template, root / "clinic.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'clinic.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=1))
    billing_email = asyncio.run(add_billing_user(url, qc))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        invoice_id = asyncio.run(insured_draft(base, qc))
        yield Clinic(base, qc, billing_email, invoice_id)


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    try:
        yield opened
    finally:
        for context in opened:
            await context.close()


async def sign_in(page: Page, clinic: Clinic, path: str) -> None:
    await page.goto(clinic.url + path)
    await page.get_by_label("E-mail address").fill(clinic.billing_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_a_claim_from_the_invoice_to_the_remittance(
    browser: Browser, contexts: list[BrowserContext], clinic: Clinic
) -> None:
    page = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    invoice_url = f"/invoices/{clinic.invoice_id}"
    await sign_in(page, clinic, invoice_url)

    # Issue the draft: 50.00 + 10.00 VAT + 10.00.
    await page.get_by_role("button", name="Issue invoice · 70.00 USD").click()
    await expect(page.get_by_text(re.compile(r"Issued as INV-"))).to_be_visible()
    # The issued invoice (swapped in by htmx) offers the claim; reloaded, it stays.
    await page.reload()
    claims = page.locator(".invoice-claims")
    await expect(claims.get_by_role("heading", name="Insurance claims")).to_be_visible()
    await claims.get_by_text("Claim from insurer").click()
    await expect(claims.get_by_label("Policy")).to_contain_text("Acme Health · primary")
    await expect(claims.get_by_label(re.compile("Amount to claim"))).to_have_value("70.00")
    await snap(page, "claims-invoice-1366")
    await claims.get_by_role("button", name="Make the draft claim").click()

    # The claim's page: a draft, the member number in clear (billing may change policies).
    await expect(page.get_by_text("A draft claim to Acme Health")).to_be_visible()
    await expect(
        page.get_by_role("heading", name=re.compile("Claim to Acme Health"))
    ).to_contain_text("Draft")
    await expect(page.locator(".claim-policy")).to_contain_text("MBR778899")
    await page.get_by_role("button", name="Submit to Acme Health · 70.00 USD").click()
    await expect(page.get_by_text("The claim was submitted to Acme Health.")).to_be_visible()
    await snap(page, "claims-claim-submitted-1366")

    # The payer approved 50.00 of the 70.00.
    decision = page.locator("form[action$='/decision']")
    await decision.get_by_label("Approved part of it").check()
    await decision.get_by_label(re.compile("Approved amount")).fill("50.00")
    await decision.get_by_label(re.compile("Payer's reference")).fill("ACME-2026-1")
    await decision.get_by_role("button", name="Record the decision").click()
    await expect(page.get_by_text("The claim was accepted for 50.00 USD.")).to_be_visible()

    # A first remittance of 30.00 (what is left, 50.00, is offered).
    remit = page.locator("form[action$='/remittances']")
    amount = remit.get_by_label(re.compile(r"^Amount paid"))
    await expect(amount).to_have_value("50.00")
    await amount.fill("30.00")
    await remit.get_by_label(re.compile("Payer's reference")).fill("EFT-9")
    await remit.get_by_role("button", name="Record the remittance").click()
    await expect(
        page.get_by_text(re.compile(r"A remittance of 30\.00 USD was recorded"))
    ).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile("Claim to Acme Health"))
    await expect(heading).to_contain_text("Partially paid")
    await expect(page.locator(".claim-amounts .invoice-due")).to_contain_text("20.00 USD")
    await expect(page.locator(".claim-invoice-due")).to_contain_text("40.00 USD due now")
    await expect(page.locator(".claim-history")).to_contain_text("Remittance recorded")
    await snap(page, "claims-claim-1366")

    # The invoice: 30.00 paid by insurance, 40.00 due, the claim listed with its status.
    await page.locator(".claim-invoice-due").get_by_role("link").click()
    await expect(page.locator(".invoice-due")).to_contain_text("40.00 USD")
    await expect(page.locator(".invoice-claims")).to_contain_text("Partially paid")
    await expect(page.locator(".invoice-payments")).to_contain_text("EFT-9")

    # The list, by status, with its totals.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Claims").click()
    await page.get_by_label("Status").select_option(label="Partially paid")
    await page.get_by_role("button", name="Show").click()
    row = page.locator(".claim-table tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Partially paid")
    await expect(row).to_contain_text("Ann Queuea")
    await expect(page.locator(".claim-totals")).to_contain_text("30.00")
    await snap(page, "claims-list-1366")
    assert problems(page) == []

    # The same pages at a phone's width: nothing scrolls sideways.
    phone = await new_page(browser, contexts, **PHONE_CONTEXT)
    await sign_in(phone, clinic, "/billing/claims")
    await expect(phone.locator(".claim-table tbody tr")).to_have_count(1)
    pages = {"list": "/billing/claims"}
    pages["claim"] = await phone.locator(".claim-table tbody a").first.get_attribute("href") or ""
    pages["invoice"] = invoice_url
    for name, path in pages.items():
        await phone.goto(clinic.url + path)
        await expect(phone.get_by_role("heading", level=1)).to_be_visible()
        sideways = await phone.evaluate(
            "Math.max(document.documentElement.scrollWidth, window.innerWidth) - 390"
        )
        assert sideways <= 0, f"{name} scrolls sideways by {sideways} px"
        await snap(phone, f"claims-{name}-390")
    assert problems(phone) == []
