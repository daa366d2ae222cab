"""Invoice, credit note and receipt as PDF, on SQLite and PostgreSQL: the text read back
with pypdf (number, patient, lines, taxes, amounts in the clinic's currency format), the
DRAFT mark, escaping, audited reads and who may print."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.audit.service import READ_ACTIONS
from clinicdesk.billing.kernel.formatting import format_money
from clinicdesk.billing.service.documents import (
    Letterhead,
    ReceiptAllocation,
    ReceiptView,
    receipt_html,
)
from clinicdesk.core.pdf import html_to_pdf
from clinicdesk.identity.models import Organization
from clinicdesk.patients.models import Patient
from tests.billing.conftest import draft, fee, issue
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

MINUS = "\N{MINUS SIGN}"  # how a document prints a deduction


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    # Locales group digits with (narrow) no-break spaces; compare with plain ones.
    return text.replace("\xa0", " ").replace("\u202f", " ")


async def credit(desk: httpx.AsyncClient, invoice: dict[str, Any], **body: Any) -> dict[str, Any]:
    made = await desk.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes", json={"reason": "Goodwill", **body}
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


# --- money in the clinic's currency and locale ----------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (123450, "USD", "en", "$1,234.50"),
        (123450, "EUR", "de", "1.234,50\xa0€"),
        (123450, "EUR", "de-AT", "€\xa01.234,50"),
        (1234, "JPY", "en", "¥1,234"),  # no minor unit: no decimals
        (1234, "JPY", "ja", "￥1,234"),
        (1234567, "KWD", "en", "KWD1,234.567"),  # three decimals, none lost
        (5, "KWD", "en", "KWD0.005"),
        (-500, "USD", "en", "-$5.00"),
        (99, "USD", "not a locale", "$0.99"),  # an unknown locale prints in English
        (99, "USD", None, "$0.99"),
    ],
)
def test_money_is_shown_in_the_currency_digits_and_the_locale_format(
    amount: int, currency: str, locale: str | None, shown: str
) -> None:
    assert format_money(amount, currency, locale) == shown


# --- invoice and credit note ----------------------------------------------------------------


async def test_an_issued_invoice_prints_its_number_patient_lines_taxes_and_amounts(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    patient = await session.get_one(Patient, qc.patient_ids[0])
    full_name, mrn = patient.full_name, patient.mrn
    item = await fee(
        desk,
        code="CONS",
        name="Consultation",
        unit_price=5000,
        tax_rates=[{"name": "VAT", "rate": "20"}],
        active_from="2020-01-01",
    )
    invoice = await draft(
        desk,
        qc.patient_ids[0],
        {
            "fee_item_id": item["id"],
            "quantity": "2",
            "discount_percent": "10",
            "discount_reason": "Loyalty",
        },
        {"name": "Dressing <small> & tape", "unit_price": 1250, "quantity": "1"},
    )
    patched = await desk.patch(
        f"/api/v1/invoices/{invoice['id']}",
        json={"notes": "Thank you.\nPay within 30 days."},
        headers={"If-Match": f'W/"{invoice["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    issued = await issue(desk, patched.json())
    # 2 x 50.00 - 10% = 90.00 + VAT 18.00 = 108.00; the dressing 12.50 untaxed.
    assert (issued["total"], issued["tax_total"]) == (12050, 1800)
    note = await credit(  # credit notes are billing's (billing:refund)
        billing, issued, lines=[{"invoice_line_id": issued["lines"][1]["id"], "amount": 250}]
    )

    response = await desk.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["Cache-Control"].startswith("no-store")
    assert issued["number"] in response.headers["content-disposition"]
    text = pdf_text(response.content)
    for expected in (
        issued["number"],
        full_name,
        f"MRN {mrn}",
        "Consultation",
        "CONS",
        "Dressing <small> & tape",  # escaped in the HTML, shown as typed
        "$50.00",  # unit price
        f"{MINUS}$10.00",  # the line's discount
        "VAT 20%",
        "$18.00",  # tax, and the summary's
        "$90.00",  # the taxable amount of VAT 20%
        "Subtotal $112.50",
        "Total $120.50",
        f"Credited {MINUS}$2.50",
        "Amount paid $0.00",
        "Amount due $118.00",
        note["number"],
        "Pay within 30 days.",
    ):
        assert expected in text, expected
    assert "DRAFT" not in text

    # The read is on the patient's audit trail, as every read of their data.
    entries = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.request_id == response.headers["X-Request-ID"],
            AuditEvent.action.in_(READ_ACTIONS),
        )
    )
    assert any(e.patient_id == qc.patient_ids[0] for e in entries)

    # The credit note names the invoice it corrects.
    pdf = await desk.get(f"/api/v1/credit-notes/{note['id']}/pdf")
    assert pdf.status_code == 200, pdf.text
    note_text = pdf_text(pdf.content)
    for expected in (note["number"], issued["number"], full_name, "Goodwill", f"{MINUS}$2.50"):
        assert expected in note_text, expected
    assert "Amount due" not in note_text or "$118.00" in note_text

    missing = await desk.get(f"/api/v1/credit-notes/{uuid.uuid4()}/pdf")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("credit-note-not-found")


async def test_a_draft_prints_with_a_draft_mark_and_no_number(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    invoice = await draft(desk, qc.patient_ids[1], {"name": "Visit", "unit_price": 4000})
    response = await desk.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "DRAFT INVOICE" in text and "DRAFT — not an invoice yet" in text
    assert "INV-" not in text and "Number" not in text
    assert "Amount due" not in text  # nothing is owed on a draft
    assert "$40.00" in text
    assert "draft-" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("currency", "unit_price", "shown", "total"),
    [("JPY", 1500, "¥1,500", "¥1,650"), ("KWD", 12345, "KWD12.345", "KWD13.580")],
)
async def test_currencies_without_and_with_three_minor_units_print_right(
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    currency: str,
    unit_price: int,
    shown: str,
    total: str,
) -> None:
    organization = await session.get_one(Organization, clinic.id)
    organization.currency = currency
    await session.commit()
    invoice = await draft(
        desk,
        qc.patient_ids[0],
        {"name": "Visit", "unit_price": unit_price, "tax_rates": [{"name": "Tax", "rate": "10"}]},
    )
    issued = await issue(desk, invoice)
    assert issued["currency"] == currency
    text = pdf_text((await desk.get(f"/api/v1/invoices/{invoice['id']}/pdf")).content)
    assert shown in text and f"Total {total}" in text
    assert "$" not in text


async def test_the_locale_sets_the_number_format(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession, clinic: Organization
) -> None:
    organization = await session.get_one(Organization, clinic.id)
    organization.currency, organization.locale = "EUR", "de-DE"
    await session.commit()
    invoice = await issue(
        desk, await draft(desk, qc.patient_ids[0], {"name": "Besuch", "unit_price": 123456})
    )
    text = pdf_text((await desk.get(f"/api/v1/invoices/{invoice['id']}/pdf")).content)
    assert "1.234,56 €" in text


async def test_who_may_print_an_invoice(people: People, qc: QueueClinic) -> None:
    desk = await people.api("desk")
    invoice = await issue(
        desk, await draft(desk, qc.patient_ids[0], {"name": "Visit", "unit_price": 1})
    )
    doctor = await people.api("doctor")  # clinicians do not hold billing:read
    assert (await doctor.get(f"/api/v1/invoices/{invoice['id']}/pdf")).status_code == 403
    admin = await people.api("admin")  # reads billing, does not write it
    assert (await admin.get(f"/api/v1/invoices/{invoice['id']}/pdf")).status_code == 200
    assert (await admin.post(f"/api/v1/invoices/{invoice['id']}/email")).status_code == 403
    assert (await desk.get(f"/api/v1/invoices/{uuid.uuid4()}/pdf")).status_code == 404


# --- receipt ---------------------------------------------------------------------------------

HEAD = Letterhead(
    clinic="Harbour <Clinic>",
    place="Main street",
    address="1 Quay Road",
    phone="+1 555 0100",
    currency="USD",
    locale="en",
    date_format="YYYY-MM-DD",
    time_zone="America/New_York",
)


async def test_a_receipt_shows_the_payment_its_allocations_and_the_balance() -> None:
    receipt = ReceiptView(
        reference="RCT-2026-000042",
        received_at=datetime(2026, 12, 5, 15, 30, tzinfo=UTC),
        patient_name="Ann <b>Lee</b> & Sons",
        patient_mrn="MRN-7",
        method="Card",
        amount=15000,
        currency="USD",
        allocations=(
            ReceiptAllocation("INV-2026-000007", 12050),
            ReceiptAllocation("INV-2026-000009", 2000),
        ),
        credit_left=950,
        balance_after=0,
        taken_by="Queue receptionist",
    )
    html = receipt_html(receipt, HEAD)
    assert "Ann &lt;b&gt;Lee&lt;/b&gt; &amp; Sons" in html  # escaped, never markup
    assert "Harbour &lt;Clinic&gt;" in html
    text = pdf_text(await html_to_pdf(html))
    for expected in (
        "Receipt",
        "RCT-2026-000042",
        "Dec 5, 2026, 10:30 AM",  # in the clinic's time zone, as English writes it
        "Ann <b>Lee</b> & Sons",
        "Card",
        "Amount received $150.00",
        "INV-2026-000007 $120.50",
        "INV-2026-000009 $20.00",
        "Kept as credit $9.50",
        "Balance after this payment $0.00",
        "Queue receptionist",
        "Harbour <Clinic>",
    ):
        assert expected in text, expected


async def test_a_receipt_in_a_currency_with_three_minor_units() -> None:
    receipt = ReceiptView(
        reference="R-1",
        received_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        patient_name="Ann Lee",
        patient_mrn=None,
        method="Cash",
        amount=10500,
        currency="KWD",
        balance_after=1,
    )
    text = pdf_text(await html_to_pdf(receipt_html(receipt, HEAD)))
    assert "KWD10.500" in text and "KWD0.001" in text
