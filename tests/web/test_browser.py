"""The real UI in headless Chromium, served by a real `clinicdesk serve` process."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import screenshot_dir

pytestmark = pytest.mark.browser


async def snap(page: Page, name: str) -> None:
    directory = screenshot_dir()
    if directory is not None:
        await page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


async def test_home_page_swaps_in_the_status_card_with_htmx(page: Page, live_server: str) -> None:
    fragment_requests: list[str] = []
    page.on(
        "request",
        lambda r: fragment_requests.append(r.url) if r.headers.get("hx-request") else None,
    )
    await page.goto(live_server + "/")
    card = page.locator("#status-card")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Ready")
    await expect(card).to_contain_text("SQLite")
    await expect(page.get_by_text("Loading system status")).to_have_count(0)
    assert fragment_requests == [live_server + "/system-status"]
    await snap(page, "home")
    assert page.console_problems == []  # type: ignore[attr-defined]  # incl. CSP violations


async def test_layout_fits_a_phone(browser_phone: Page, live_server: str) -> None:
    page = browser_phone
    await page.goto(live_server + "/")
    await expect(page.locator("#status-card")).to_be_visible()
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    await expect(page.get_by_role("link", name="System status")).to_be_visible()
    await snap(page, "home-phone")


async def test_api_reference_renders_under_the_csp(page: Page, live_server: str) -> None:
    await page.goto(live_server + "/docs")
    await expect(page.locator(".swagger-ui .title")).to_contain_text("ClinicDesk")
    await expect(page.get_by_text("/health/ready").first).to_be_visible()
    await snap(page, "api-reference")
    assert not [p for p in page.console_problems if "Content Security Policy" in p]  # type: ignore[attr-defined]


async def test_unknown_page_shows_a_readable_error(page: Page, live_server: str) -> None:
    response = await page.goto(live_server + "/no/such/page")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("link", name="Back to the home page")).to_be_visible()
    await snap(page, "not-found")
