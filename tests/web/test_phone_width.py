"""Every page of every role at phone width (390 px), in headless Chromium against a real
``clinicdesk serve``: no page scrolls sideways, and every item of the menu can be seen
and tapped once the menu is open.

The pages are the ones each role's own menu links to, plus the pages a role reaches from
there: a patient's chart, an appointment, the calendar's day and week, the day list, the
account pages, and for a patient the portal. The clinic is this module's own: made with
one CLI command (each costs a process start), the rest through the JSON API, and the
staff and the patient accept their invitations the way a browser posts the form."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.support.patients import register_over_http
from tests.support.server import run_cli
from tests.web.conftest import LIVE_PASSWORD, LiveClinic
from tests.web.test_browser import snap
from tests.web.test_calendar_browser import a_weekday_ahead, token

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
ADMIN_EMAIL = "hs-admin@example.org"
PATIENT_EMAIL = "poppy.handset@example.org"
STAFF = (
    ("receptionist", "hs-desk@example.org", "Rae Desk"),
    ("doctor", "hs-doctor@example.org", "Dr. Hal Set"),
    ("nurse", "hs-nurse@example.org", "Nia Nurse"),
    ("billing", "hs-billing@example.org", "Bo Billing"),
)
# A loaded two-core CI machine: first renders can take seconds; nothing here sleeps.
SLOW = 20_000
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

# One look at a page as a phone shows it: how far it scrolls sideways, whether the wide
# row of links shows, which table cells lie beyond the screen's edge (a table too wide
# for it, even in a box of its own), and which of the menu's items cannot be tapped once
# the menu is open - outside the screen, without size, or covered at their centre. A
# page without the Menu has its row of links checked the same way. A phone shows a page
# wider than itself zoomed out (its layout viewport grows), so both the page's width
# and the window's count.
LOOK = """(width) => {
  const page = () => Math.max(document.documentElement.scrollWidth, window.innerWidth) - width;
  const menu = document.querySelector("details[data-site-menu]");
  const shown = el => !!el && el.getClientRects().length > 0;
  const found = {
    sideways: page(),
    wide: shown(document.querySelector(".site-header .nav-wide")),
    menu: !!menu && shown(menu.querySelector("summary")),
    cells: [...document.querySelectorAll("main tbody td, main tbody th")].filter(
      cell => shown(cell) && cell.getBoundingClientRect().right > width + 1
    ).map(cell => cell.textContent.trim().slice(0, 30)),
    unreachable: [],
  };
  if (found.menu) menu.open = true;
  const items = found.menu
    ? menu.querySelectorAll("ul a, ul button")
    : document.querySelectorAll("header nav a, header nav summary");
  for (const item of items) {
    // A long menu scrolls up and down inside itself; nothing may hide sideways.
    let box = item.getBoundingClientRect();
    const list = item.closest("ul");
    if (found.menu && (box.top < 0 || box.bottom > window.innerHeight)) {
      list.scrollTop += box.top - list.getBoundingClientRect().top;
      box = item.getBoundingClientRect();
    }
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    const outside = box.width < 1 || box.height < 1 || box.left < 0
      || box.right > width || box.top < 0 || box.bottom > window.innerHeight;
    if (outside || !(hit && (hit === item || item.contains(hit)))) {
      found.unreachable.push(item.textContent.trim());
    }
  }
  found.sideways = Math.max(found.sideways, page());
  if (found.menu) menu.open = false;
  return found;
}"""


@dataclass(frozen=True)
class Person:
    role: str
    email: str
    recovery_code: str | None = None  # an administrator's second step


@dataclass(frozen=True)
class PhoneClinic:
    people: tuple[Person, ...]
    location_id: str
    day: date
    patient_id: str
    appointment_id: str


def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def invitation_tokens(
    mail_dir: Path, addresses: set[str], *, wait_seconds: float = 60
) -> dict[str, str]:
    """The invitation link's token mailed to each address. A job sends the mail after
    the invitation commits; on a busy machine that can take a while."""
    deadline = time.monotonic() + wait_seconds
    found: dict[str, str] = {}
    while True:
        for path in mail_dir.glob("*.eml"):
            message = message_from_bytes(path.read_bytes())
            body = message.get_payload(decode=True)
            if message["To"] in addresses and isinstance(body, bytes):
                link = re.search(r"/invitations/accept\?token=([\w-]+)", body.decode())
                if link:
                    found[str(message["To"])] = link.group(1)
        if set(found) == addresses:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no invitation mailed to {sorted(addresses - set(found))}")
        time.sleep(0.2)


async def accept_invitation(url: str, raw: str) -> None:
    """What the invitation page's form posts, with its CSRF token."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as browser:
        form = await browser.get("/invitations/accept", params={"token": raw})
        csrf = CSRF_FIELD.search(form.text)
        assert csrf, form.text[:500]
        done = await browser.post(
            "/invitations/accept",
            data={
                "token": raw,
                "password": LIVE_PASSWORD,
                "confirm": LIVE_PASSWORD,
                "csrf_token": csrf.group(1),
            },
        )
        assert done.status_code in (200, 303), done.text[:500]


@pytest.fixture(scope="session")
async def handset(live_clinic: LiveClinic) -> PhoneClinic:
    """Made once: Handset Clinic (London) with a location, a doctor working every day
    08:00-18:00, one consultation type, a receptionist, a nurse, a billing clerk, an
    administrator with two-factor sign-in, and a patient with a portal account and one
    appointment."""
    live = live_clinic
    run_cli(
        live.data_dir,
        "org",
        "create",
        "Handset Clinic",
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password",
        LIVE_PASSWORD,
        "--time-zone",
        "Europe/London",
    )
    day = a_weekday_ahead()
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        first = {"Authorization": f"Bearer {await token(client, ADMIN_EMAIL)}"}
        secret = _json(await client.post("/api/v1/me/mfa", headers=first))["secret"]
        codes = _json(
            await client.post(
                "/api/v1/me/mfa/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=first
            )
        )["recovery_codes"]
        admin = {"Authorization": f"Bearer {await token(client, ADMIN_EMAIL, codes[0])}"}
        ids = {}
        for role, email, name in STAFF:
            invited = await client.post(
                "/api/v1/users",
                json={"email": email, "full_name": name, "roles": [role]},
                headers=admin,
            )
            ids[role] = _json(invited, 201)["id"]
        location = _json(
            await client.post("/api/v1/locations", json={"name": "Pocket St"}, headers=admin), 201
        )["id"]
        provider = await client.post(
            "/api/v1/providers",
            json={
                "user_id": ids["doctor"],
                "display_name": "Dr. Hal Set",
                "location_ids": [location],
            },
            headers=admin,
        )
        provider_id = _json(provider, 201)["id"]
        blocks = [
            {"location_id": location, "weekday": d, "start_time": "08:00", "end_time": "18:00"}
            for d in range(7)
        ]
        _json(
            await client.put(
                f"/api/v1/providers/{provider_id}/hours",
                json={"blocks": blocks},
                headers={**admin, "If-Match": provider.headers["etag"]},
            )
        )
        kind = _json(
            await client.post(
                "/api/v1/appointment-types",
                json={"name": "Consultation", "duration_minutes": 30, "color": "#1d4ed8"},
                headers=admin,
            ),
            201,
        )["id"]
        staff = {email for _role, email, _name in STAFF}
        for raw in invitation_tokens(live.data_dir / "mail", staff).values():
            await accept_invitation(live.url, raw)
        # The front desk registers the patient, books and invites them to the portal.
        desk = {"Authorization": f"Bearer {await token(client, STAFF[0][1])}"}
        patient = await register_over_http(
            client,
            headers=desk,
            given_name="Poppy",
            family_name="Handset",
            birth_date="1991-07-30",
            email=PATIENT_EMAIL,
            phone="(617) 201-0390",
            national_id="123-45-0390",
        )
        booked = _json(
            await client.post(
                "/api/v1/appointments",
                json={
                    "patient_id": patient["id"],
                    "provider_id": provider_id,
                    "location_id": location,
                    "type_id": kind,
                    "starts_at": f"{day.isoformat()}T11:00:00+00:00",
                    "reason": "Sore wrist",
                },
                headers=desk,
            ),
            201,
        )
        _json(
            await client.post(
                f"/api/v1/patients/{patient['id']}/portal-invitation", json={}, headers=desk
            ),
            201,
        )
    raw = invitation_tokens(live.data_dir / "mail", {PATIENT_EMAIL})[PATIENT_EMAIL]
    await accept_invitation(live.url, raw)
    people = (
        *(Person(role, email) for role, email, _name in STAFF),
        Person("admin", ADMIN_EMAIL, recovery_code=codes[1]),
        Person("patient", PATIENT_EMAIL),
    )
    return PhoneClinic(people, location, day, patient["id"], booked["id"])


async def sign_in(page: Page, url: str, person: Person) -> None:
    """Through the sign-in form (and the second step for an administrator), until a page
    with the signed-in header (it links to the account) is there."""
    await page.goto(url + "/login")
    await page.get_by_label("E-mail address").fill(person.email)
    await page.get_by_label("Password").fill(LIVE_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    if person.recovery_code is not None:
        await page.get_by_label("Code").fill(person.recovery_code)
        await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("header a[href='/account']").first).to_be_attached(timeout=SLOW)


async def faults_of_page(page: Page, url: str) -> list[str]:
    """What is wrong with the page at ``url`` on a phone, in words."""
    response = await page.goto(url)
    assert response is not None
    if response.status >= 400:
        return [f"answers {response.status}"]
    if await page.locator("#calendar").count():
        # The calendar draws itself after the page has loaded.
        await expect(page.locator("#calendar .ec-main, #calendar .ec-list").first).to_be_attached()
    look = await page.evaluate(LOOK, PHONE["width"])
    faults = []
    if look["sideways"] > 0:
        faults.append(f"scrolls sideways by {look['sideways']}px")
    if look["wide"]:
        faults.append("shows the wide row of links")
    if not look["menu"]:
        faults.append("has no Menu to open")
    if look["unreachable"]:
        faults.append(f"menu items out of reach: {look['unreachable']}")
    if look["cells"]:
        faults.append(f"table cells beyond the screen's edge: {look['cells']}")
    return faults


def key_pages(person: Person, clinic: PhoneClinic, nav: list[str]) -> list[str]:
    """The pages a role reaches from its menu's pages, as far as the role may."""
    pages = ["/account", "/account/sessions"]
    if person.role == "patient":
        return ["/portal", "/portal/appointments", "/portal/invoices", *pages]
    where = f"location_id={clinic.location_id}&date={clinic.day.isoformat()}"
    if "/patients" in nav:
        pages.append(f"/patients/{clinic.patient_id}")
    if "/calendar" in nav:
        pages.append(f"/calendar/appointments/{clinic.appointment_id}")
    if "/calendar" in nav and person.role == "receptionist":
        # The calendar's own views look the same to every role that has them.
        pages += [
            f"/calendar?{where}&view=day",
            f"/calendar?{where}&view=week",
            f"/calendar?{where}&view=provider-day",
            f"/calendar/list?{where}",
            "/account/password",
        ]
    return pages


async def visit_as(
    browser: Browser, url: str, clinic: PhoneClinic, person: Person
) -> tuple[list[str], dict[str, list[str]]]:
    """One person's own browser: sign in, read the menu, look at each page. The pages
    visited and, per page, what is wrong with it."""
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(SLOW)
    page = await context.new_page()
    try:
        await sign_in(page, url, person)
        links = page.locator("header nav a[href]:not(.brand)")
        nav: list[str] = await links.evaluate_all("all => all.map(a => a.getAttribute('href'))")
        pages = list(dict.fromkeys([*nav, *key_pages(person, clinic, nav)]))
        faults = {}
        for path in pages:
            found = await faults_of_page(page, url + path)
            if found:
                faults[path] = found
        await snap(page, f"phone-{person.role}")
        return pages, faults
    finally:
        await context.close()


async def test_every_page_of_every_role_fits_a_phone(
    browser: Browser, live_clinic: LiveClinic, handset: PhoneClinic
) -> None:
    # One browser context per role, side by side: while one waits for the server
    # (a sign-in's password check), another lays out a page.
    seen = await asyncio.gather(
        *(visit_as(browser, live_clinic.url, handset, person) for person in handset.people)
    )
    visited = {p.role: pages for p, (pages, _faults) in zip(handset.people, seen, strict=True)}
    faults = {
        f"{p.role} {path}": found
        for p, (_pages, page_faults) in zip(handset.people, seen, strict=True)
        for path, found in page_faults.items()
    }
    assert faults == {}
    assert "/admin/users" in visited["admin"] and "/queue" in visited["receptionist"]
    assert f"/patients/{handset.patient_id}" in visited["billing"]
    assert "/portal/appointments" in visited["patient"]


async def test_the_menu_opens_closes_and_signs_out_on_a_phone(
    browser: Browser, live_clinic: LiveClinic, handset: PhoneClinic
) -> None:
    clinic = handset
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(SLOW)
    page = await context.new_page()
    try:
        await sign_in(page, live_clinic.url, clinic.people[0])
        menu = page.get_by_role("navigation", name="Main")
        # Closed, the places are out of sight; opened, each one is a tap away.
        await expect(menu.get_by_role("link", name="Calendar")).to_be_hidden()
        await menu.get_by_text("Menu").tap()
        await menu.get_by_role("link", name="Queue").tap()
        await expect(page).to_have_url(re.compile(r"/queue$"))
        await menu.get_by_text("Menu").tap()
        await expect(menu.get_by_role("link", name="Calendar")).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(menu.get_by_role("link", name="Calendar")).to_be_hidden()
        await menu.get_by_text("Menu").tap()
        await menu.get_by_role("button", name="Sign out").tap()
        await expect(page.get_by_text("You are signed out.")).to_be_visible()
    finally:
        await context.close()


async def test_a_desktop_keeps_the_row_of_links(
    page: Page, live_clinic: LiveClinic, handset: PhoneClinic
) -> None:
    clinic = handset
    await page.set_viewport_size({"width": 1366, "height": 900})
    await sign_in(page, live_clinic.url, clinic.people[0])
    menu = page.get_by_role("navigation", name="Main")
    for label in ("Home", "Patients", "Calendar", "Queue"):
        await expect(menu.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(page.locator("details[data-site-menu]")).to_be_hidden()
