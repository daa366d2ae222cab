"""The real UI in headless Chromium, served by a real `clinicdesk serve` process."""

from __future__ import annotations

import pyotp
import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import LiveClinic, screenshot_dir

pytestmark = pytest.mark.browser

# A failed sign-in answers status 401; Chromium logs that.
EXPECTED_401 = "status of 401"
FIRST_RENDER_MS = 30_000


async def snap(page: Page, name: str) -> None:
    directory = screenshot_dir()
    if directory is not None:
        await page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def problems(page: Page) -> list[str]:
    seen: list[str] = page.console_problems  # type: ignore[attr-defined]
    return [p for p in seen if EXPECTED_401 not in p]


async def sign_in(page: Page, clinic: LiveClinic, email: str, path: str = "/") -> None:
    await page.goto(clinic.url + path)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(clinic.password)
    await page.get_by_role("button", name="Sign in").click()


async def enrol_mfa(page: Page) -> None:
    """Follow the forced two-factor set-up with a code computed from the shown key."""
    await expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    secret = (await page.locator(".secret").inner_text()).strip()
    await page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()


async def test_doctor_signs_in_to_a_home_page_without_admin_tools(
    page: Page, live_clinic: LiveClinic
) -> None:
    await page.goto(live_clinic.url + "/")
    await snap(page, "login")
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    await expect(page.get_by_role("heading", name="Good to see you, Dr. Dee")).to_be_visible()
    await expect(page.get_by_role("link", name="Staff")).to_have_count(0)
    await expect(page.locator("#status-card")).to_have_count(0)
    await snap(page, "home-doctor")
    assert problems(page) == []


async def test_sign_in_then_htmx_swaps_the_status_card(page: Page, live_clinic: LiveClinic) -> None:
    fragment_requests: list[str] = []
    page.on(
        "request",
        lambda r: fragment_requests.append(r.url) if r.headers.get("hx-request") else None,
    )
    await sign_in(page, live_clinic, live_clinic.ops_email)
    await enrol_mfa(page)
    await page.get_by_role("link", name="I have saved them").click()
    card = page.locator("#status-card")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Ready")
    await expect(card).to_contain_text("SQLite")
    await expect(page.get_by_text("Loading system status")).to_have_count(0)
    # (The header's alert bell loads its count the same way, on every page.)
    bell = live_clinic.url + "/alerts/bell"
    assert [u for u in fragment_requests if u != bell] == [live_clinic.url + "/system-status"]
    # The administrator's pages sit in the menu's "Admin" dropdown on a desktop.
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Staff")).to_be_hidden()
    await nav.get_by_text("Admin", exact=True).click()
    await expect(nav.get_by_role("link", name="Staff")).to_be_visible()
    await expect(nav.get_by_role("link", name="Audit trail")).to_be_visible()
    await snap(page, "home")
    assert problems(page) == []  # incl. Content-Security-Policy violations


async def test_wrong_password_gets_one_generic_message(page: Page, live_clinic: LiveClinic) -> None:
    await page.goto(live_clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(live_clinic.doctor_email)
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "e-mail address or password is not right"
    )
    await snap(page, "login-failed")


async def test_admin_must_set_up_mfa_then_manages_staff(
    page: Page, live_clinic: LiveClinic
) -> None:
    await sign_in(page, live_clinic, live_clinic.admin_email, "/admin/users")
    await expect(page.get_by_text("Required:")).to_be_visible()
    await snap(page, "mfa-enrol")
    await enrol_mfa(page)
    await expect(page.locator(".codes li")).to_have_count(10)
    await snap(page, "recovery-codes")

    await page.goto(live_clinic.url + "/admin/users")
    await expect(page.get_by_role("heading", name="Staff")).to_be_visible()
    await page.get_by_label("Name").fill("Nora Nurse")
    await page.get_by_label("E-mail address").fill("nora@example.org")
    await page.get_by_label("Nurse").check()
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.get_by_text("Invitation sent to nora@example.org")).to_be_visible()
    await expect(page.get_by_text("Invitation not yet accepted")).to_be_visible()
    await snap(page, "admin-user")

    await page.goto(live_clinic.url + "/admin/audit")
    await expect(page.get_by_role("cell", name="User invited", exact=True)).to_be_visible()
    await page.get_by_role("link", name="Action").click()  # sort by action, via htmx
    await expect(page).to_have_url(f"{live_clinic.url}/admin/audit?sort=action&order=desc")
    await snap(page, "audit")
    assert problems(page) == []

    await page.locator("summary", has_text="Ada Admin").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()


async def test_layout_fits_a_phone(browser_phone: Page, live_clinic: LiveClinic) -> None:
    page = browser_phone
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    for path in ("/", "/account", "/account/sessions"):
        await page.goto(live_clinic.url + path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
        header = await page.locator(".site-header").bounding_box()
        assert header is not None
        assert header["height"] < 140, path  # the nav stays one row on a phone
    await snap(page, "sessions-phone")


async def test_api_reference_renders_under_the_csp(page: Page, live_server: str) -> None:
    await page.goto(live_server + "/docs")
    # Swagger UI parses a large bundle, then fetches and renders the whole OpenAPI
    # document: on a busy machine its first render takes far longer than a page's.
    await expect(page.locator(".swagger-ui .title")).to_contain_text(
        "ClinicDesk", timeout=FIRST_RENDER_MS
    )
    await expect(page.get_by_text("/health/ready").first).to_be_visible(timeout=FIRST_RENDER_MS)
    await snap(page, "api-reference")
    assert not [p for p in problems(page) if "Content Security Policy" in p]


async def test_unknown_page_shows_a_readable_error(page: Page, live_server: str) -> None:
    response = await page.goto(live_server + "/no/such/page")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("link", name="Back to the home page")).to_be_visible()
    await snap(page, "not-found")
