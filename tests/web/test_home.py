"""The home page per role, over HTTP on SQLite and PostgreSQL: what each role's cards
show, checking a patient in from the front desk's card, that a role never gets another
role's cards nor data it may not read, and that the page costs a fixed number of queries
however full the day is."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.config import Settings
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Location, Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.public import OrganizationSetup
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.public import Provider, ScheduleSetup
from clinicdesk.web.home import setup_checklist
from tests.support.identity import SignIn, create_org, create_user
from tests.support.queue import QueueClinic, book_today, make_queue_clinic

HTMX = {"HX-Request": "true"}
CHECK_IN_FORM = 'action="/queue/check-ins"'


@pytest.fixture
async def qc(session: AsyncSession, clinic: Organization) -> QueueClinic:
    """Main Street at midday, Dr. Ada and Dr. Bo working, six patients."""
    return await make_queue_clinic(session, clinic)


async def web(
    session: AsyncSession, qc: QueueClinic, sign_in: SignIn, who: str
) -> httpx.AsyncClient:
    user = await session.get(User, qc.user_ids[who])
    assert user is not None
    return await sign_in(user)


async def check_in(client: httpx.AsyncClient, appointment_id: uuid.UUID) -> httpx.Response:
    answer = await client.post(
        "/queue/check-ins", data={"appointment_id": str(appointment_id)}, headers=HTMX
    )
    assert answer.status_code == 200, answer.text
    return answer


def cards_on(html: str) -> list[str]:
    return re.findall(r'id="home-([a-z-]+)" class="home-card(?:-frame)?[ "]', html)


# --- the front desk ------------------------------------------------------------------------


async def test_reception_sees_today_with_check_in_counts_and_the_queue(
    session: AsyncSession, qc: QueueClinic, clinic: Organization, sign_in_web: SignIn
) -> None:
    soon = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=20)
    here = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=-30)
    await book_today(
        session, qc, qc.patient_ids[2], minutes_from_now=60, provider_id=qc.other_provider_id
    )
    desk = await web(session, qc, sign_in_web, "desk")
    await check_in(desk, here)

    page = await desk.get("/")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"  # names patients
    html = page.text
    assert cards_on(html) == ["desk"]
    assert "Main Street" in html
    assert "Ann Queuea" in html and "Ben Queueb" in html and "Cleo Queuec" in html
    # The expected patients each have a working check-in; the one here has a token.
    assert html.count(CHECK_IN_FORM) == 2
    assert f'name="appointment_id" value="{soon}"' in html
    assert f'name="appointment_id" value="{here}"' not in html
    assert re.search(r"Waiting · [A-Z]+-?\d+", html)
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", html))
    assert counts == {
        "Booked": "3",
        "To arrive": "2",
        "Waiting": "1",
        "In consultation": "0",
        "Done": "0",
    }
    assert "1 waiting (longest 0 min)" in html
    assert 'href="/queue?location_id=' in html
    # Kept current from the queue's events, and nothing of the other roles' cards.
    assert 'data-live-refresh hx-get="/home/desk?location_id=' in html
    assert 'data-live-stream="/api/v1/events"' in html and "queue.checked_in" in html
    assert "/static/live.js" in html and "<script>" not in html
    assert "system-status" not in html and "Set-up" not in html and "My queue" not in html
    assert 'href="/account"' in html
    assert "appear here as they are switched on" not in html

    # A nurse who sees no patients of her own gets the same day (she may check in).
    nurse = await create_user(session, clinic, Role.NURSE)
    theirs = (await (await sign_in_web(nurse)).get("/")).text
    assert cards_on(theirs) == ["desk"]
    assert "Ann Queuea" in theirs and theirs.count(CHECK_IN_FORM) == 2
    assert "not set up as a provider" not in theirs


async def test_check_in_from_the_home_page_moves_the_patient_on(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    appointment = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=5)
    desk = await web(session, qc, sign_in_web, "desk")
    before = await desk.get("/home/desk", headers=HTMX)
    assert f'value="{appointment}"' in before.text

    answer = await check_in(desk, appointment)
    assert "q-result-token" in answer.text  # the token and the QR code for the patient
    assert answer.headers["HX-Trigger"] == "live:changed"  # the card then reloads

    card = await desk.get("/home/desk", params={"location_id": str(qc.location_id)}, headers=HTMX)
    assert card.status_code == 200
    assert "<html" not in card.text and card.text.lstrip().startswith('<article id="home-desk"')
    assert f'value="{appointment}"' not in card.text
    assert "Waiting · " in card.text
    again = await desk.post(
        "/queue/check-ins", data={"appointment_id": str(appointment)}, headers=HTMX
    )
    assert again.status_code == 409 and "already" in again.text.lower()

    # Opened directly, the card's address leads to the page; other roles' cards are not
    # there for the front desk.
    opened = await desk.get("/home/desk", params={"location_id": str(qc.location_id)})
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/?location_id={qc.location_id}"
    assert (await desk.get("/home/setup", headers=HTMX)).status_code == 404
    assert (await desk.get("/home/my-day", headers=HTMX)).status_code == 404
    assert (await desk.get("/home/nothing", headers=HTMX)).status_code == 404


async def test_the_desk_card_picks_a_location_and_survives_a_stale_one(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    await book_today(session, qc, qc.patient_ids[0], minutes_from_now=5)
    await scope_to_tenant(session, qc.organization_id)
    hill = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Hill <Road>")
    )
    await session.commit()
    desk = await web(session, qc, sign_in_web, "desk")
    there = await desk.get("/", params={"location_id": str(hill.id)})
    assert "Hill &lt;Road&gt;" in there.text and "Hill <Road>" not in there.text
    assert "Nobody is booked today at Hill &lt;Road&gt;." in there.text
    assert "Ann Queuea" not in there.text
    assert 'id="home-desk-location"' in there.text  # the picker
    stale = await desk.get("/", params={"location_id": str(uuid.uuid4())})
    assert stale.status_code == 200 and "Ann Queuea" in stale.text
    assert (await desk.get("/", params={"location_id": "nope"})).status_code == 422


# --- doctors and nurses ------------------------------------------------------------------


async def test_a_doctor_sees_their_own_queue_and_day_only(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    mine = await book_today(session, qc, qc.patient_ids[0], minutes_from_now=-10)
    later = await book_today(session, qc, qc.patient_ids[1], minutes_from_now=90)
    theirs = await book_today(
        session, qc, qc.patient_ids[2], minutes_from_now=-5, provider_id=qc.other_provider_id
    )
    desk = await web(session, qc, sign_in_web, "desk")
    await check_in(desk, mine)
    await check_in(desk, theirs)

    ada = await web(session, qc, sign_in_web, "doctor")
    page = await ada.get("/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert cards_on(html) == ["my-day"]
    assert "Dr. Ada" in html and "Main Street" in html
    assert re.search(r"<dt>Waiting for you</dt><dd>1</dd>", html)
    assert "Ann Queuea" in html  # waiting for her, and on her list
    assert "Ben Queueb" in html  # her appointment later today
    assert "Cleo Queuec" not in html  # Dr. Bo's patient
    assert f'href="/queue/mine?location_id={qc.location_id}"' in html
    assert CHECK_IN_FORM not in html and "system-status" not in html
    assert str(later) not in html  # no actions of the desk on her card

    bo = await web(session, qc, sign_in_web, "other_doctor")
    theirs_page = (await bo.get("/")).text
    assert "Cleo Queuec" in theirs_page and "Ann Queuea" not in theirs_page


async def test_a_doctor_without_a_provider_record_is_told_who_can_fix_it(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR)
    page = await (await sign_in_web(doctor)).get("/")
    assert page.status_code == 200
    assert "not set up as a provider" in page.text
    assert "An administrator can add you under Providers" in page.text


# --- the administrator --------------------------------------------------------------------


async def test_admin_sees_a_checklist_from_real_data_and_the_system_status(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    await book_today(session, qc, qc.patient_ids[0], minutes_from_now=15)
    admin = await web(session, qc, sign_in_web, "admin")
    page = await admin.get("/")
    assert page.status_code == 200
    html = page.text
    assert cards_on(html) == ["setup", "system-status"]
    assert 'hx-get="/system-status"' in html
    assert "Organization details" in html and 'href="/admin/organization"' in html
    # The test clinic's location has its rooms, so the line is done.
    assert "1 location" in html and "Main Street." in html and "No rooms listed" not in html
    assert "Providers and working hours" in html and "2 providers, all with working hours" in html
    assert 'href="/admin/settings/providers"' in html
    for settings_page in (  # what the checklist links to is there
        "/admin/settings/providers",
        "/admin/settings/appointment-types",
        "/admin/settings/rooms",
    ):
        assert (await admin.get(settings_page)).status_code == 200, settings_page
    assert "2 types to book" in html
    assert "1 receptionist" in html and "2 doctors" in html
    assert "Set CLINICDESK_SMTP_URL" in html  # the tests send no mail
    assert "clinicdesk backup" in html
    # The admin's home names no patient and offers no front-desk step.
    assert "Ann Queuea" not in html and CHECK_IN_FORM not in html


async def test_a_new_organizations_checklist_says_what_is_missing(
    session: AsyncSession, sign_in_web: SignIn
) -> None:
    fresh = await create_org(session, "Brand New", mfa_required_for_admins=False)
    admin = await create_user(session, fresh, Role.ADMIN)
    html = (await (await sign_in_web(admin)).get("/")).text
    items = dict(
        re.findall(
            r'<strong>([^<]+)</strong>\s*<span class="home-badge home-badge-\w+">([^<]+)<', html
        )
    )
    assert items["Organization details"] == "Check"  # still UTC
    assert items["Locations"] == "To do"
    assert items["Staff"] == "To do"
    assert items["Providers and working hours"] == "To do"
    assert items["Appointment types"] == "To do"
    assert items["E-mail"] == "Check"
    assert items["Two-factor sign-in for administrators"] == "Check"  # not required
    assert items["Keys and backups"] == "Note"
    assert "0 of 7 done" in html


# --- billing, and everyone ---------------------------------------------------------------


async def test_billing_is_offered_only_what_it_can_do_and_two_roles_get_both(
    session: AsyncSession, qc: QueueClinic, clinic: Organization, sign_in_web: SignIn
) -> None:
    await book_today(session, qc, qc.patient_ids[0], minutes_from_now=15)
    billing = await sign_in_web(await create_user(session, clinic, Role.BILLING))
    html = (await billing.get("/")).text
    assert cards_on(html) == ["billing"]
    assert 'action="/invoices"' in html and 'name="q"' in html
    assert 'href="/invoices?status=draft"' in html and "/admin/settings/fee-schedule" in html
    assert "Ann Queuea" not in html and CHECK_IN_FORM not in html
    assert "system-status" not in html and "/queue" not in html
    assert (await billing.get("/home/desk", headers=HTMX)).status_code == 404
    # What the card points to really opens for billing.
    assert (await billing.get("/invoices", params={"q": "Queue"})).status_code == 200
    assert (await billing.get("/admin/settings/fee-schedule")).status_code == 200

    # Two roles, both sets of cards, in the page's order.
    both = await create_user(session, clinic, Role.ADMIN, Role.RECEPTIONIST)
    html = (await (await sign_in_web(both)).get("/")).text
    assert cards_on(html) == ["desk", "setup", "system-status"]


async def test_a_user_without_a_role_is_told_who_gives_one(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    nobody = await create_user(session, clinic)
    html = (await (await sign_in_web(nobody)).get("/")).text
    assert cards_on(html) == []
    assert "has no role" in html and 'href="/account"' in html


# --- cost --------------------------------------------------------------------------------


@contextmanager
def statements_of(session: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_the_home_page_costs_the_same_few_queries_however_full_the_day(
    session: AsyncSession, qc: QueueClinic, sign_in_web: SignIn
) -> None:
    desk = await web(session, qc, sign_in_web, "desk")
    ada = await web(session, qc, sign_in_web, "doctor")
    for client in (desk, ada):  # a session's first request looks up its organization
        assert (await client.get("/")).status_code == 200
    counts: dict[str, list[int]] = {"desk": [], "doctor": []}
    for n, patient_id in enumerate(qc.patient_ids[:6]):
        appointment = await book_today(session, qc, patient_id, minutes_from_now=n * 10 - 20)
        if n % 2:
            await check_in(desk, appointment)
        if n in (1, 5):
            for who, client in (("desk", desk), ("doctor", ada)):
                with statements_of(session) as seen:
                    assert (await client.get("/")).status_code == 200
                counts[who].append(len(seen))
    assert counts["desk"][0] == counts["desk"][1], counts
    assert counts["doctor"][0] == counts["doctor"][1], counts
    # Signing in, a dozen reads, and the audit entry of what was shown.
    assert max(counts["desk"] + counts["doctor"]) <= 22, counts


def test_the_checklist_links_to_the_settings_pages() -> None:
    """Each item links to the settings page where it is done. Mail sent through SMTP
    counts as done."""
    organization = Organization(
        name="Hill Clinic", time_zone="Europe/Lisbon", currency="EUR", date_format="DD/MM/YYYY"
    )
    organization.mfa_required_for_admins = True
    hill = Location(name="Hill", rooms=[], time_zone=None)
    org = OrganizationSetup(
        organization=organization,
        locations=[hill],
        staff=3,
        staff_by_role={"admin": 1, "doctor": 2},
    )
    provider = Provider(display_name="Dr. <Hill>")
    schedule = ScheduleSetup(providers=[provider], without_hours=[provider], types=0)
    settings = Settings(_env_file=None, smtp_url=SecretStr("smtp://mail.example.org:587"))

    items = {i.title: i for i in setup_checklist(org, schedule, settings)}
    assert items["Providers and working hours"].href == "/admin/settings/providers"
    assert items["Appointment types"].href == "/admin/settings/appointment-types"
    assert items["1 location"].href == "/admin/settings/rooms"  # Hill has no rooms
    assert items["Organization details"].status == "done"  # not UTC
    assert items["E-mail"].status == "done"
    assert items["Providers and working hours"].status == "todo"
    assert "Dr. <Hill>" in items["Providers and working hours"].detail  # escaped by the page
    assert items["Two-factor sign-in for administrators"].status == "done"
