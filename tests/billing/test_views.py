"""The billing pages over the same services as the API, on both databases: the invoice
list (filters, patient search, pages, what is due), a draft edited by hand and issued,
a stale form refused in words, the credit-note form, the visit's checkout panel (the
consultation's draft, one item added, issued), the chart's invoices section; who may
open them (a doctor has no billing:read) and CSRF."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.views import invoices as invoice_views
from clinicdesk.core.csrf import HEADER as CSRF_HEADER
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.billing.conftest import draft, fee, issue
from tests.billing.test_drafting import _consultation, _finish
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic

HTMX = {"hx-request": "true"}
MINUS = "\N{MINUS SIGN}"
NUMBER = re.compile(r"INV-\d{4}-\d{6}")


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found is not None, html
    return found.group(1)


def line_ids(html: str, invoice_id: object) -> list[str]:
    found = re.findall(rf"/invoices/{invoice_id}/lines/([0-9a-f-]{{36}})/remove", html)
    return list(dict.fromkeys(found))


@pytest.fixture
async def web_desk(people: People) -> httpx.AsyncClient:
    return await people.web("desk")


@pytest.fixture
async def consult(desk: httpx.AsyncClient, qc: QueueClinic) -> dict[str, Any]:
    return await fee(
        desk, code="CONS15", name="Consultation", unit_price=6000, active_from="2020-01-01"
    )


async def test_the_list_filters_finds_the_patient_and_pages(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    qc: QueueClinic,
    consult: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = {"fee_item_id": consult["id"]}
    first = await issue(desk, await draft(desk, qc.patient_ids[0], line))
    await draft(desk, qc.patient_ids[0], line)
    await draft(desk, qc.patient_ids[1], line)

    page = await web_desk.get("/invoices")
    assert page.status_code == 200, page.text
    assert first["number"] in page.text and page.text.count("Draft</a>") == 2
    assert "60.00" in page.text  # the total and what is due, in major units

    drafts = (await web_desk.get("/invoices", params={"status": "draft"})).text
    assert first["number"] not in drafts and drafts.count("Draft</a>") == 2

    # One patient matches the search: their invoices, and a new invoice for them.
    mine = (await web_desk.get("/invoices", params={"q": "Ann Queuea"})).text
    assert first["number"] in mine and mine.count("Draft</a>") == 1
    assert f'name="patient_id" value="{qc.patient_ids[0]}"' in mine
    # Several match: picked from a list, no invoices until one is chosen.
    several = (await web_desk.get("/invoices", params={"q": "Queue"})).text
    assert "Several patients match" in several and first["number"] not in several
    none = (await web_desk.get("/invoices", params={"q": "Nobody Atall"})).text
    assert "No patient matches" in none

    later = (await web_desk.get("/invoices", params={"date_from": "2999-01-01"})).text
    assert "No invoices match these filters" in later

    # The form as a browser sends it with "Any" and no dates: every invoice, no error.
    sent = {"q": "", "status": "", "date_from": "", "date_to": ""}
    whole = await web_desk.get("/invoices", params=sent)
    assert whole.status_code == 200, whole.text
    assert first["number"] in whole.text and whole.text.count("Draft</a>") == 2
    # A filter no form sends is dropped with a sentence, not a JSON error.
    odd = await web_desk.get("/invoices", params={"status": "lost", "date_to": "tomorrow"})
    assert odd.status_code == 200 and "All invoices are shown" in odd.text

    monkeypatch.setattr(invoice_views, "PAGE_SIZE", 2)
    one = (await web_desk.get("/invoices")).text
    cursor = re.search(r'cursor=([^"&]+)">Next page', one)
    assert cursor is not None
    two = (await web_desk.get(f"/invoices?cursor={cursor.group(1)}")).text
    assert first["number"] in two and "Next page" not in two and "First page" in two


async def test_a_draft_by_hand_is_edited_then_issued(
    web_desk: httpx.AsyncClient, qc: QueueClinic, consult: dict[str, Any]
) -> None:
    made = await web_desk.post("/invoices", data={"patient_id": str(qc.patient_ids[0])})
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    invoice_id = url.rsplit("/", 1)[1]
    page = (await web_desk.get(url)).text
    assert "Draft invoice" in page and "CONS15 — Consultation · 60.00" in page

    added = await web_desk.post(
        f"{url}/lines",
        data={"item": "CONS15 — Consultation · 60.00", "quantity": "2"},
        headers=HTMX,
    )
    assert "Consultation added." in added.text and "120.00" in added.text
    text = await web_desk.post(
        f"{url}/lines",
        data={"name": "Dressing", "price": "5.50", "quantity": "1", "tax_rates": "VAT 20"},
        headers=HTMX,
    )
    assert "Dressing added." in text.text and "VAT 20%" in text.text and "1.10" in text.text
    unknown = await web_desk.post(f"{url}/lines", data={"item": "NOPE"}, headers=HTMX)
    assert "No item of the fee schedule" in unknown.text
    assert 'aria-invalid="true"' in unknown.text

    consultation, dressing = line_ids(text.text, invoice_id)
    no_reason = await web_desk.post(
        f"{url}/lines/{consultation}",
        data={"version": version_of(text.text), "quantity": "2", "discount_value": "10"},
        headers=HTMX,
    )
    assert "needs its reason" in no_reason.text
    discounted = await web_desk.post(
        f"{url}/lines/{consultation}",
        data={
            "version": version_of(text.text),
            "quantity": "2",
            "discount_kind": "percent",
            "discount_value": "10",
            "discount_reason": "Follow-up",
        },
        headers=HTMX,
    )
    assert "The line was changed." in discounted.text and f"{MINUS} 12.00" in discounted.text
    whole = await web_desk.post(
        f"{url}/discount",
        data={
            "version": version_of(discounted.text),
            "discount_kind": "amount",
            "discount_value": "1.00",
            "discount_reason": "Loyal patient",
        },
        headers=HTMX,
    )
    assert "The discount was set." in whole.text and "Loyal patient" in whole.text
    noted = await web_desk.post(
        f"{url}/notes", data={"version": version_of(whole.text), "notes": "Paid at desk"}
    )
    assert noted.status_code == 303  # without htmx: back to the page with a message
    page = (await web_desk.get(url)).text
    assert "Paid at desk" in page
    removed = await web_desk.post(
        f"{url}/lines/{dressing}/remove", data={"version": version_of(page)}, headers=HTMX
    )
    assert "The line was removed." in removed.text and "Dressing" not in removed.text

    # A form built before the last change is refused in words, and nothing changes.
    stale = await web_desk.post(f"{url}/issue", data={"version": version_of(page)}, headers=HTMX)
    assert "Someone else changed this invoice" in stale.text
    assert NUMBER.search(stale.text) is None

    issued = await web_desk.post(
        f"{url}/issue", data={"version": version_of(removed.text)}, headers=HTMX
    )
    number = NUMBER.search(issued.text)
    assert number is not None and f"Issued as {number.group(0)}" in issued.text
    page = (await web_desk.get(url)).text
    assert "Issued · due" in page and "Take payment" in page
    assert f"/invoices/{invoice_id}/lines" not in page  # read-only now
    assert "107.00" in page  # 2 x 60 - 12 - 1, what is due


@pytest.fixture
async def web_billing(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> httpx.AsyncClient:
    return await sign_in_web(await create_user(session, clinic, Role.BILLING))


async def test_a_credit_note_from_the_page(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    web_billing: httpx.AsyncClient,
    qc: QueueClinic,
    consult: dict[str, Any],
) -> None:
    issued = await issue(desk, await draft(desk, qc.patient_ids[0], {"fee_item_id": consult["id"]}))
    line_id = issued["lines"][0]["id"]
    url = f"/invoices/{issued['id']}/credit-notes"
    # Only billing and the admin credit (billing:refund): the front desk has no form.
    assert "Make a credit note" not in (await web_desk.get(f"/invoices/{issued['id']}")).text
    refused = await web_desk.post(url, data={"everything": "true", "reason": "Waived"})
    assert refused.status_code == 403
    assert "Make a credit note" in (await web_billing.get(f"/invoices/{issued['id']}")).text
    too_much = await web_billing.post(
        url, data={f"amount-{line_id}": "70.00", "reason": "Overcharged"}, headers=HTMX
    )
    assert "at most 60.00 USD" in too_much.text
    nothing = await web_billing.post(url, data={"reason": "Overcharged"}, headers=HTMX)
    assert "at least one line" in nothing.text
    made = await web_billing.post(
        url, data={f"amount-{line_id}": "20.00", "reason": "Overcharged"}, headers=HTMX
    )
    assert re.search(r"Credit note CN-\d{4}-000001 made", made.text), made.text
    assert "Overcharged" in made.text and "40.00 USD" in made.text  # 60 - 20 due
    rest = await web_billing.post(
        url, data={"everything": "true", "reason": "Waived"}, headers=HTMX
    )
    assert "CN-" in rest.text and "Issued · settled" in rest.text
    assert "Make a credit note" not in rest.text  # nothing left to credit


async def test_the_checkout_panel_of_a_finished_consultation(
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
) -> None:
    await fee(
        desk,
        code="CONS15",
        name="Consultation",
        unit_price=6000,
        active_from="2020-01-01",
        appointment_type_id=str(qc.consultation_id),
    )
    await fee(desk, code="ECG", name="Electrocardiogram", unit_price=2500, active_from="2020-01-01")
    encounter = await _consultation(people, qc, session)
    await _finish(await people.api("doctor"), encounter.id)
    listed = await desk.get("/api/v1/invoices", params={"patient_id": str(encounter.patient_id)})
    invoice_id = listed.json()["items"][0]["id"]

    # The front desk's home lists who is at checkout, one click from the panel.
    home = (await web_desk.get("/")).text
    assert 'id="home-checkout"' in home and f'href="/invoices/{invoice_id}/checkout"' in home
    assert "Ann Queuea" in home and "60.00 USD" in home

    # The chart's section shows the panel; so does its own page.
    section = await web_desk.get(f"/billing/patients/{encounter.patient_id}/invoices", headers=HTMX)
    assert f'id="checkout-{invoice_id}"' in section.text and "Consultation" in section.text
    url = f"/invoices/{invoice_id}/checkout"
    panel = (await web_desk.get(url)).text
    assert "Checkout" in panel and "Issue invoice · 60.00 USD" in panel

    added = await web_desk.post(
        f"/invoices/{invoice_id}/lines",
        data={"item": "ECG", "quantity": "1", "panel": "checkout"},
        headers=HTMX,
    )
    assert added.text.lstrip().startswith(f'<article id="checkout-{invoice_id}"')
    assert "Electrocardiogram added." in added.text and "85.00" in added.text
    issued = await web_desk.post(
        f"/invoices/{invoice_id}/issue",
        data={"version": version_of(added.text), "panel": "checkout"},
        headers=HTMX,
    )
    number = NUMBER.search(issued.text)
    assert number is not None and "Issued · due" in issued.text
    assert "Due" in issued.text and "85.00 USD" in issued.text
    assert "Issue invoice" not in issued.text and "Add an item" not in issued.text
    # Without htmx, a post goes back to the checkout page, with the refusal in words.
    again = await web_desk.post(
        f"/invoices/{invoice_id}/issue", data={"version": "1", "panel": "checkout"}
    )
    assert again.status_code == 303 and again.headers["location"] == url
    assert "is issued and cannot change" in (await web_desk.get(url)).text
    card = await web_desk.get("/home/checkout", headers=HTMX)
    assert "Due</span>" in card.text and "85.00 USD" in card.text


async def test_the_fee_schedule_and_number_formats_pages(
    people: People, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    fees = "/admin/settings/fee-schedule"
    added = await web_desk.post(
        fees,
        data={
            "code": "ECG",
            "name": "Electrocardiogram",
            "price": "25.50",
            "tax_rates": "VAT 20",
            "active_from": "2020-01-01",
            "appointment_type_id": str(qc.consultation_id),
        },
    )
    assert added.status_code == 303, added.text
    page = (await web_desk.get(fees)).text
    assert "Electrocardiogram" in page and "25.50" in page and "VAT 20" in page
    assert "Visit type: " in page
    bad = await web_desk.post(fees, data={"code": "X1", "name": "X", "price": "1.234"})
    assert (bad.status_code == 422 and "decimal places" in bad.text) or "such as 12.50" in bad.text
    taken = await web_desk.post(fees, data={"code": "ECG", "name": "Again", "price": "1"})
    assert taken.status_code == 409 and "already has code" in taken.text

    item_id = re.search(rf"{fees}/([0-9a-f-]{{36}})/price", page)
    assert item_id is not None
    price_url = f"{fees}/{item_id.group(1)}/price"
    stale = await web_desk.post(
        price_url, data={"version": "9", "price": "30", "active_from": "2030-01-01"}
    )
    assert stale.status_code == 412 and "Someone else changed" in stale.text
    repriced = await web_desk.post(
        price_url, data={"version": version_of(page), "price": "30", "active_from": "2030-01-01"}
    )
    assert repriced.status_code == 303, repriced.text
    history = (await web_desk.get(fees, params={"code": "ECG"})).text
    assert "25.50" in history and "30.00" in history and "Price history" in history
    later = (await web_desk.get(fees, params={"on": "2031-01-01"})).text
    assert "30.00" in later and "25.50" not in later
    new_id = re.search(rf"{fees}/([0-9a-f-]{{36}})/end", later)
    assert new_id is not None
    ended = await web_desk.post(
        f"{fees}/{new_id.group(1)}/end",
        data={"version": version_of(later.split(new_id.group(1))[1]), "active_to": "2031-06-30"},
    )
    assert ended.status_code == 303, ended.text
    assert "No items in force" in (await web_desk.get(fees, params={"on": "2031-07-01"})).text

    numbers = "/admin/settings/invoice-numbers"
    shown = (await web_desk.get(numbers)).text
    assert "INV-{year}-{seq:06d}" in shown and version_of(shown) == "0"
    refused = await web_desk.post(
        numbers,
        data={
            "version": "0",
            "invoice_number_format": "INV-{seq}",
            "credit_note_number_format": "CN-{year}-{seq}",
        },
    )
    assert refused.status_code == 422 and "{year} and {seq}" in refused.text
    saved = await web_desk.post(
        numbers,
        data={
            "version": "0",
            "invoice_number_format": "F{year}/{seq:05d}",
            "credit_note_number_format": "A{year}/{seq:05d}",
        },
    )
    assert saved.status_code == 303, saved.text
    assert "F{year}/{seq:05d}" in (await web_desk.get(numbers)).text

    # The admin reads them (billing:read) from the settings index, without the forms.
    admin = await people.web("admin")
    index = (await admin.get("/admin/settings")).text
    assert fees in index and numbers in index
    read_only = (await admin.get(numbers)).text
    assert "Billing staff change these" in read_only and 'name="version"' not in read_only
    assert 'method="post" action="/admin/settings/fee-schedule' not in (await admin.get(fees)).text


async def test_a_doctor_has_no_billing_pages_and_a_post_needs_csrf(
    people: People,
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    qc: QueueClinic,
    consult: dict[str, Any],
) -> None:
    made = await draft(desk, qc.patient_ids[0], {"fee_item_id": consult["id"]})
    doctor = await people.web("doctor")
    for path in (
        "/invoices",
        f"/invoices/{made['id']}",
        f"/invoices/{made['id']}/checkout",
        f"/billing/patients/{qc.patient_ids[0]}/invoices",
        "/admin/settings/fee-schedule",
        "/admin/settings/invoice-numbers",
    ):
        assert (await doctor.get(path, headers=HTMX)).status_code == 403, path
    posted = await doctor.post(f"/invoices/{made['id']}/issue", data={"version": "1"})
    assert posted.status_code == 403
    nav = (await doctor.get("/")).text
    assert 'href="/invoices"' not in nav
    assert 'href="/invoices"' in (await web_desk.get("/")).text
    chart = (await doctor.get(f"/patients/{qc.patient_ids[0]}")).text
    assert "/billing/patients/" not in chart

    # Another organization's invoice is not found.
    assert (await web_desk.get(f"/invoices/{uuid.uuid4()}")).status_code == 404

    # A post without the session's CSRF token is refused and changes nothing.
    web_desk.headers.pop(CSRF_HEADER)
    forged = await web_desk.post(f"/invoices/{made['id']}/issue", data={"version": "1"})
    assert forged.status_code == 403
    assert (await desk.get(f"/api/v1/invoices/{made['id']}")).json()["status"] == "draft"


async def test_billing_reads_and_writes_a_receptionist_too(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn, qc: QueueClinic
) -> None:
    billing = await sign_in_web(await create_user(session, clinic, Role.BILLING))
    made = await billing.post("/invoices", data={"patient_id": str(qc.patient_ids[2])})
    assert made.status_code == 303
    page = (await billing.get(made.headers["location"])).text
    assert "Add to the invoice" in page
    missing = await billing.post("/invoices", data={"patient_id": ""})
    assert missing.status_code == 303
    assert "Pick the patient" in (await billing.get(missing.headers["location"])).text
