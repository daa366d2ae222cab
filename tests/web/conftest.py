"""Browser fixtures: Playwright driving Debian's Chromium, headless, against a real server."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.support.server import run_cli, running_server

CHROMIUM = os.environ.get("CLINICDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the test machines run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class LiveClinic:
    url: str
    data_dir: Path
    admin_email: str
    doctor_email: str
    password: str
    ops_email: str = "ops@example.org"


LIVE_PASSWORD = "browser-test-password-2026"

# Browser tests wait on conditions, never on time. How long they may wait is sized for a
# loaded two-core CI machine, where a first render (Swagger UI, the calendar) or an
# htmx swap can take many seconds: a passing test returns as soon as its condition
# holds, so only a failing one pays for the length.
# A common phone, with touch: the browser_phone fixture and the tests' phone pages.
PHONE_CONTEXT: dict[str, object] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
EXPECT_TIMEOUT_MS = 20_000  # expect(...).to_...: a swap, a render, a live update
ACTION_TIMEOUT_MS = 30_000  # clicks, fills, page loads


@pytest.fixture(scope="session")
def live_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveClinic]:
    """``clinicdesk serve`` on the embedded SQLite default, in a fresh data directory,
    with an organization made by the CLI: an admin (who must set up MFA) and a doctor."""
    data_dir = tmp_path_factory.mktemp("live") / "data"
    with running_server(data_dir) as url:
        output = run_cli(
            data_dir,
            "org",
            "create",
            "Browser Clinic",
            "--admin-email",
            "admin@example.org",
            "--admin-password",
            LIVE_PASSWORD,
            "--admin-name",
            "Ada Admin",
            "--time-zone",
            "Europe/London",
        )
        match = re.search(r"\(([0-9a-f-]{36})\)", output)
        assert match, output
        for email, name, role in (
            ("doctor@example.org", "Dr. Dee", "doctor"),
            ("ops@example.org", "Olu Ops", "admin"),
        ):
            run_cli(
                data_dir,
                "user",
                "create",
                "--organization",
                match.group(1),
                "--email",
                email,
                "--name",
                name,
                "--role",
                role,
                "--password",
                LIVE_PASSWORD,
            )
        yield LiveClinic(url, data_dir, "admin@example.org", "doctor@example.org", LIVE_PASSWORD)


@pytest.fixture(scope="session")
def live_server(live_clinic: LiveClinic) -> str:
    return live_clinic.url


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; its absence fails the browser tests, it never skips them."""
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
            "(the test command does) or set CLINICDESK_CHROMIUM"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        try:
            yield browser
        finally:
            await browser.close()


class ConsoleProblems(list[str]):
    """Console errors and CSP violations seen by a page."""


async def new_page(browser: Browser, contexts: list[BrowserContext], **options: object) -> Page:
    """A page in a new context of its own (kept in ``contexts`` for the test to close),
    noting its console errors and warnings in ``page.console_problems``."""
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    contexts.append(context)
    page = await context.new_page()
    seen = ConsoleProblems()
    page.on(
        "console", lambda msg: seen.append(msg.text) if msg.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda exc: seen.append(str(exc)))
    page.console_problems = seen  # type: ignore[attr-defined]
    return page


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = await context.new_page()
    problems = ConsoleProblems()
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.console_problems = problems  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        await context.close()


def screenshot_dir() -> Path | None:
    """Set CLINICDESK_SCREENSHOT_DIR to keep screenshots of the pages the tests visit."""
    value = os.environ.get("CLINICDESK_SCREENSHOT_DIR")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser_phone(browser: Browser) -> AsyncIterator[Page]:
    """A page the size of a common phone, with touch."""
    context = await browser.new_context(**PHONE_CONTEXT)  # type: ignore[arg-type]
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()
