"""Taking money on the billing pages, on both databases: a part payment then the rest
from the checkout panel, an overpayment kept as credit and used on the next invoice, a
form sent twice taking the money once, refunds and voids (billing:refund, a reason
required; the front desk sees neither), the receipt as PDF (its text read back), and
the chart's balance."""

from __future__ import annotations

import html
import io
import re
import uuid
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.billing.conftest import draft, fee, issue
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic

HTMX = {"hx-request": "true"}
KEY = re.compile(r'name="form_key" value="([^"]+)"')


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def form_key(html: str) -> str:
    """The key of the first money form on the page (the payment form comes first)."""
    found = KEY.search(html)
    assert found is not None, html
    return found.group(1)


@pytest.fixture
async def web_desk(people: People) -> httpx.AsyncClient:
    return await people.web("desk")


@pytest.fixture
async def web_billing(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> httpx.AsyncClient:
    return await sign_in_web(await create_user(session, clinic, Role.BILLING))


async def issued(desk: httpx.AsyncClient, patient_id: object, price: int) -> dict[str, Any]:
    return await issue(desk, await draft(desk, patient_id, {"name": "Visit", "unit_price": price}))


async def pay(
    client: httpx.AsyncClient, invoice_id: object, page: str, panel: str = "checkout", **form: str
) -> str:
    """Send the page's payment form; the answer as a person reads it."""
    data = {"method": "cash", "reference": "", "panel": panel, "form_key": form_key(page), **form}
    return await post(client, f"/invoices/{invoice_id}/payments", data)


async def post(client: httpx.AsyncClient, url: str, data: dict[str, str]) -> str:
    """An htmx post's answer with its text as a person reads it (``&#39;`` as ')."""
    response = await client.post(url, data=data, headers=HTMX)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


async def payments_of(desk: httpx.AsyncClient, patient_id: object) -> list[dict[str, Any]]:
    listed = await desk.get("/api/v1/payments", params={"patient_id": str(patient_id)})
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def test_a_part_payment_by_card_then_cash_for_the_rest(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    invoice = await issued(desk, qc.patient_ids[0], 8500)
    url = f"/invoices/{invoice['id']}/checkout"
    panel = (await web_desk.get(url)).text
    # What is owed is prefilled; the four desk methods; no receipt before a payment.
    assert 'name="amount" inputmode="decimal"' in panel and 'value="85.00"' in panel
    for word in ("Card", "Cash", "Bank transfer", "Other"):
        assert f"> {word}</label>" in panel, word
    assert "Print receipt" not in panel and "No payments yet" not in panel

    part = await pay(
        web_desk, invoice["id"], panel, method="card", amount="50.00", reference="4242"
    )
    assert part.lstrip().startswith(f'<article id="checkout-{invoice["id"]}"')
    assert "Card 50.00 USD taken. Still owed: 35.00 USD." in part
    # The next payment is offered at once, for the rest, with a new key.
    assert 'value="35.00"' in part and form_key(part) != form_key(panel)
    assert "Print receipt" in part and "Issued · due" in part
    assert "4242" in part  # the reference, in the payments list

    rest = await pay(web_desk, invoice["id"], part, method="cash", amount="35.00")
    assert "Cash 35.00 USD taken." in rest and "Still owed" not in rest
    assert "Issued · settled" in rest and "Take payment" not in rest
    assert "Payments (2)" in rest and "Print receipt" in rest
    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert after["amount_paid"] == 8500 and after["amount_due"] == 0
    made = await payments_of(desk, qc.patient_ids[0])
    assert sorted((p["method"], p["amount"], p["reference"]) for p in made) == [
        ("card", 5000, "4242"),
        ("cash", 3500, None),
    ]

    # Refused amounts say what to do, and take nothing.
    other = await issued(desk, qc.patient_ids[1], 1000)
    page = (await web_desk.get(f"/invoices/{other['id']}")).text
    for typed, words in (("0", "Give the amount"), ("12.345", "decimal"), ("abc", "such as 12.50")):
        refused = await pay(web_desk, other["id"], page, panel="invoice", amount=typed)
        assert words in refused, (typed, refused)
    assert await payments_of(desk, qc.patient_ids[1]) == []


async def test_an_overpayment_is_kept_as_credit_and_used_on_the_next_invoice(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    patient = qc.patient_ids[0]
    first = await issued(desk, patient, 6000)
    panel = (await web_desk.get(f"/invoices/{first['id']}/checkout")).text
    over = await pay(web_desk, first["id"], panel, amount="100")
    assert (
        "Cash 100.00 USD taken. 40.00 USD more than was owed is kept as the patient's credit."
        in over
    )
    assert "Issued · settled" in over
    assert "40.00 USD</strong> is kept as the patient's credit" in over
    assert "40.00 on this invoice" not in over and "60.00 on this invoice" in over

    second = await issued(desk, patient, 2500)
    panel = (await web_desk.get(f"/invoices/{second['id']}/checkout")).text
    assert "Use credit · 25.00 USD" in panel and "has 40.00 USD of credit" in panel
    keys = KEY.findall(panel)
    assert len(keys) == 2  # the payment form's and the credit form's
    used = await post(
        web_desk,
        f"/invoices/{second['id']}/apply-credit",
        {"panel": "checkout", "form_key": keys[1]},
    )
    assert "25.00 USD of the patient's credit used." in used
    assert "Issued · settled" in used and "15.00 USD</strong> is kept" in used
    # The same credit form again: nothing more is used.
    again = await post(
        web_desk,
        f"/invoices/{second['id']}/apply-credit",
        {"panel": "checkout", "form_key": keys[1]},
    )
    assert "already sent" in again
    balance = (await desk.get(f"/api/v1/patients/{patient}/balance")).json()
    assert balance["credit_available"] == 1500 and balance["balance"] == -1500

    # The chart's invoices section: the balance and the credit.
    got = await web_desk.get(f"/billing/patients/{patient}/invoices", headers=HTMX)
    section = html.unescape(got.text)
    assert "15.00 USD</strong> in the patient's favour" in section
    assert "credit <strong>15.00 USD</strong>" in section


async def test_a_payment_form_sent_twice_takes_the_money_once(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    invoice = await issued(desk, qc.patient_ids[2], 8500)
    panel = (await web_desk.get(f"/invoices/{invoice['id']}/checkout")).text
    first = await pay(web_desk, invoice["id"], panel, method="card", amount="50.00")
    double = await pay(web_desk, invoice["id"], panel, method="card", amount="50.00")
    assert "Card 50.00 USD taken." in first and "already sent" not in first
    assert "already sent: it was done once, not twice" in double
    assert "Still owed: 35.00 USD" in double
    made = await payments_of(desk, qc.patient_ids[2])
    assert [p["amount"] for p in made] == [5000]
    # The same form with other figures is refused in words, and takes nothing.
    changed = await pay(web_desk, invoice["id"], panel, method="card", amount="60.00")
    assert "already sent, with other figures; nothing more was done" in changed
    assert [p["amount"] for p in await payments_of(desk, qc.patient_ids[2])] == [5000]
    # A form without its key takes nothing either.
    keyless = await post(
        web_desk,
        f"/invoices/{invoice['id']}/payments",
        {"method": "cash", "amount": "1", "panel": "checkout"},
    )
    assert "missing its key" in keyless
    assert len(await payments_of(desk, qc.patient_ids[2])) == 1


async def test_refund_and_void_belong_to_billing_and_need_a_reason(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    web_billing: httpx.AsyncClient,
    qc: QueueClinic,
) -> None:
    invoice = await issued(desk, qc.patient_ids[0], 8500)
    page = (await web_desk.get(f"/invoices/{invoice['id']}")).text
    paid = await pay(web_desk, invoice["id"], page, panel="invoice", amount="50.00")
    page = paid
    await pay(web_desk, invoice["id"], page, panel="invoice", method="card", amount="35.00")
    card, cash = sorted(await payments_of(desk, qc.patient_ids[0]), key=lambda p: p["method"])
    base = f"/invoices/{invoice['id']}/payments"

    # The front desk sees the payments, not the refund or void forms, and is refused.
    shown = (await web_desk.get(f"/invoices/{invoice['id']}")).text
    assert "Taken by" in shown and "Received" in shown
    assert "/refund" not in shown and "/void" not in shown
    for action, form in (
        ("refund", {"amount": "1", "reason": "x", "form_key": "k"}),
        ("void", {"reason": "x"}),
    ):
        forbidden = await web_desk.post(f"{base}/{cash['id']}/{action}", data=form)
        assert forbidden.status_code == 403, action

    page = (await web_billing.get(f"/invoices/{invoice['id']}")).text
    assert f"{base}/{cash['id']}/refund" in page and f"{base}/{cash['id']}/void" in page
    key = KEY.search(page[page.index(f"{base}/{cash['id']}/refund") :])
    assert key is not None
    no_reason = await post(
        web_billing,
        f"{base}/{cash['id']}/refund",
        {"amount": "20.00", "reason": "", "form_key": key.group(1), "panel": "invoice"},
    )
    assert "reason" in no_reason.lower() and "refunded." not in no_reason
    refunded = await post(
        web_billing,
        f"{base}/{cash['id']}/refund",
        {
            "amount": "20.00",
            "reason": "Dressing not used",
            "form_key": key.group(1),
            "panel": "invoice",
        },
    )
    assert "20.00 USD refunded." in refunded
    assert "Refunded 20.00" in refunded and "Dressing not used" in refunded
    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert after["amount_due"] == 2000  # the refunded cash is owed again

    no_void_reason = await post(
        web_billing, f"{base}/{card['id']}/void", {"reason": "", "panel": "invoice"}
    )
    assert "Say why" in no_void_reason or "reason" in no_void_reason.lower()
    assert (await desk.get(f"/api/v1/payments/{card['id']}")).json()["status"] == "recorded"
    voided = await post(
        web_billing,
        f"{base}/{card['id']}/void",
        {"reason": "Card terminal charged twice", "panel": "invoice"},
    )
    assert "The payment of 35.00 USD was voided." in voided
    assert "Voided" in voided and "Card terminal charged twice" in voided
    # A refunded payment is refunded, not voided: its void form is gone, and the rule
    # says so if posted anyway.
    assert f"{base}/{cash['id']}/void" not in voided
    late = await post(web_billing, f"{base}/{cash['id']}/void", {"reason": "x", "panel": "invoice"})
    assert "refund the rest instead" in late
    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert after["amount_due"] == 5500


async def test_the_receipt_of_a_payment_as_pdf(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
) -> None:
    patient = qc.patient_ids[0]
    invoice = await issued(desk, patient, 8500)
    panel = (await web_desk.get(f"/invoices/{invoice['id']}/checkout")).text
    part = await pay(
        web_desk, invoice["id"], panel, method="card", amount="50.00", reference="4242"
    )
    (card,) = await payments_of(desk, patient)
    link = f"/payments/{card['id']}/receipt.pdf"
    assert f'href="{link}" target="_blank"' in part  # "Print receipt"

    printed = await web_desk.get(link)
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "application/pdf"
    assert printed.headers["cache-control"].startswith("no-store")
    assert printed.headers["content-disposition"].startswith('inline; filename="receipt-R-')
    text = pdf_text(printed.content)
    for expected in (
        "Receipt",
        f"R-{card['business_date'].replace('-', '')}-{uuid.UUID(card['id']).hex[:8].upper()}",
        "Ann Queuea",
        "Card",
        "Amount received $50.00",
        f"{invoice['number']} $50.00",
        "Balance after this payment $35.00",
        "Reference: 4242",
    ):
        assert expected in text, (expected, text)
    assert "Kept as credit" not in text
    read = await session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.request_id == printed.headers["X-Request-ID"],
            AuditEvent.patient_id == patient,
        )
    )
    assert read is not None  # the read is on the audit trail

    # The API's address of the same receipt.
    api = await desk.get(f"/api/v1/payments/{card['id']}/receipt/pdf")
    assert api.status_code == 200 and api.headers["cache-control"].startswith("no-store")
    assert "Amount received $50.00" in pdf_text(api.content)

    # Paying beyond what is owed: the receipt says what is kept as credit.
    rest = await pay(web_desk, invoice["id"], part, amount="40.00")
    assert "5.00 USD more than was owed" in rest
    cash = next(p for p in await payments_of(desk, patient) if p["method"] == "cash")
    text = pdf_text((await web_desk.get(f"/payments/{cash['id']}/receipt.pdf")).content)
    assert "Kept as credit $5.00" in text and "(in your favour) $5.00" in text
    assert f"{invoice['number']} $35.00" in text

    # A doctor has no billing:read.
    doctor = await people.web("doctor")
    assert (await doctor.get(link)).status_code == 403
    assert (await web_desk.get(f"/payments/{uuid.uuid4()}/receipt.pdf")).status_code == 404


async def test_issue_take_payment_and_print_the_receipt_in_three_clicks(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    """A consultation fee from the schedule, issued from the panel, paid in one click:
    issue, take payment (what is owed prefilled), print the receipt."""
    consult = await fee(desk, code="C1", name="Consultation", unit_price=6000)
    made = await draft(desk, qc.patient_ids[4], {"fee_item_id": consult["id"]})
    panel = (await web_desk.get(f"/invoices/{made['id']}/checkout")).text
    version = re.search(r'name="version" value="(\d+)"', panel)
    assert version is not None
    issued_panel = await post(
        web_desk,
        f"/invoices/{made['id']}/issue",
        {"version": version.group(1), "panel": "checkout"},
    )
    paid = await pay(web_desk, made["id"], issued_panel, method="card", amount="60.00")
    assert "Issued · settled" in paid
    receipt = re.search(r'href="(/payments/[0-9a-f-]{36}/receipt\.pdf)"', paid)
    assert receipt is not None
    assert "Amount received $60.00" in pdf_text((await web_desk.get(receipt.group(1))).content)


async def test_the_charts_balance_line_reloads_after_a_payment(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    """A payment taken in the chart's invoices section raises ``billing:changed``; the
    section's balance line listens and fetches itself again (a refused one raises none)."""
    patient_id = qc.patient_ids[0]
    invoice = await issued(desk, patient_id, 8500)
    section_url = f"/billing/patients/{patient_id}/invoices"
    section = html.unescape((await web_desk.get(section_url, headers=HTMX)).text)
    slot = f'id="chart-balance-{patient_id}"'
    assert slot in section and 'hx-trigger="billing:changed from:body"' in section
    assert f'hx-get="{section_url}"' in section
    assert f'hx-select="#chart-balance-{patient_id}"' in section
    assert "85.00 USD</strong> to pay" in section

    # The panel's form (a hand-made invoice is not a checkout of the section: its page's).
    panel = (await web_desk.get(f"/invoices/{invoice['id']}/checkout")).text
    data = {"method": "card", "reference": "", "panel": "checkout", "amount": "50.00"}
    refused = await web_desk.post(
        f"/invoices/{invoice['id']}/payments",
        data={**data, "amount": "0", "form_key": form_key(panel)},
        headers=HTMX,
    )
    assert refused.status_code == 200 and "HX-Trigger" not in refused.headers
    taken = await web_desk.post(
        f"/invoices/{invoice['id']}/payments",
        data={**data, "form_key": form_key(panel)},
        headers=HTMX,
    )
    assert taken.status_code == 200 and "50.00 USD taken" in html.unescape(taken.text)
    assert taken.headers["HX-Trigger"] == "billing:changed"
    again = html.unescape((await web_desk.get(section_url, headers=HTMX)).text)
    assert slot in again and "35.00 USD</strong> to pay" in again
