"""The pages of outstanding balances, on SQLite and PostgreSQL: the aging report (totals,
the table linking to statements, filters typed on the page, the CSV), a patient's
statement as a page and as a PDF (its text read back with pypdf), the nav link, and who
may open them."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.models import Patient
from tests.billing.test_aging import invoice_of, set_issue_date
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

PAGE = {"accept": "text/html"}


async def patient(session: AsyncSession, qc: QueueClinic, index: int) -> Patient:
    found = await session.get(Patient, qc.patient_ids[index])
    assert found is not None
    return found


async def test_the_aging_page_totals_rows_filters_and_csv(
    people: People, desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    ann, ben = await patient(session, qc, 0), await patient(session, qc, 1)
    ann_name, ben_name, ann_id = ann.display_name, ben.display_name, ann.id
    first = await invoice_of(desk, ann_id, 123456)
    today = date.fromisoformat(first["issue_date"])
    old = await invoice_of(desk, ben.id, 5000, location_id=str(qc.location_id))
    await set_issue_date(session, qc, old["id"], today - timedelta(days=95))

    web = await people.web("desk")
    page = await web.get("/billing/aging", headers=PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="/billing/aging" aria-current="page"' in html  # the nav link
    assert "1,234.56" in html and "50.00" in html and "1,284.56" in html  # totals
    assert f'href="/billing/statements/{ann_id}"' in html
    # Most overdue first: Ben (over 90 days) before Ann.
    assert html.index(ben_name) < html.index(ann_name)

    filtered = await web.get(
        "/billing/aging",
        params={"location_id": str(qc.location_id), "min_balance": "10", "as_of": ""},
        headers=PAGE,
    )
    assert filtered.status_code == 200
    assert ben_name in filtered.text and ann_name not in filtered.text
    fragment = await web.get(
        "/billing/aging", params={"min_balance": "2000"}, headers={**PAGE, "hx-request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "Nobody owes anything" in fragment.text

    for params, message in (
        ({"min_balance": "ten"}, "not an amount"),
        ({"min_balance": "1.234"}, "not an amount"),
        ({"min_balance": "Infinity"}, "not an amount"),
        ({"min_balance": "-5"}, "zero or more"),
        ({"as_of": "31/12/2026"}, "not a date"),
        ({"location_id": "nowhere"}, "Choose a location"),
        ({"sort": "name"}, "Choose an order"),
    ):
        refused = await web.get("/billing/aging", params=params, headers=PAGE)
        assert refused.status_code == 400, params
        assert message in refused.text and "<form" in refused.text, params

    exported = await web.get("/billing/aging.csv", params={"min_balance": "100"})
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert [r[0] for r in rows[1:-1]] == [ann.full_name]
    assert rows[-1][9] == "1234.56"


async def test_the_statement_page_and_its_pdf(
    people: People,
    desk: httpx.AsyncClient,
    billing: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
) -> None:
    ann = await patient(session, qc, 0)
    ann_id, full_name, mrn = ann.id, ann.full_name, ann.mrn
    first = await invoice_of(desk, ann_id, 10000)
    today = date.fromisoformat(first["issue_date"])
    await set_issue_date(session, qc, first["id"], today - timedelta(days=70))
    second = await invoice_of(desk, ann_id, 2500)
    note = await billing.post(
        f"/api/v1/invoices/{second['id']}/credit-notes", json={"reason": "Goodwill gesture"}
    )
    assert note.status_code == 201, note.text

    web = await people.web("desk")
    page = await web.get(f"/billing/statements/{ann_id}", headers=PAGE)
    assert page.status_code == 200, page.text
    for expected in (first["number"], second["number"], note.json()["number"], "Goodwill"):
        assert expected in page.text, expected
    assert "125.00" in page.text and "100.00" in page.text  # a running balance and the end
    assert f'href="/billing/statements/{ann_id}.pdf"' in page.text

    wrong = await web.get(f"/billing/statements/{ann_id}", params={"as_of": "soon"}, headers=PAGE)
    assert wrong.status_code == 400 and "not a date" in wrong.text
    assert first["number"] in wrong.text  # the whole statement, with what to correct

    pdf = await web.get(f"/billing/statements/{ann_id}.pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    # Words as read back, whatever the lines they were wrapped on.
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split()
    )
    for expected in (
        "STATEMENT OF ACCOUNT",  # the heading, upper-cased by its style
        full_name,
        mrn,
        first["number"],
        second["number"],
        note.json()["number"],
        "Goodwill gesture",
        "61-90 days",
        "125.00",
        "Balance due",
    ):
        assert expected in text, expected
    assert "Balance due $100.00" in text  # 125.00 less the credited 25.00

    period = await web.get(
        f"/billing/statements/{ann_id}.pdf", params={"date_from": today.isoformat()}
    )
    period_text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(period.content)).pages)
    assert "Opening balance" in period_text and first["number"] not in period_text


async def test_who_may_open_the_pages(
    people: People, desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    await invoice_of(desk, qc.patient_ids[0], 1000)
    doctor = await people.web("doctor")
    home = await doctor.get("/", headers=PAGE)
    assert 'href="/billing/aging"' not in home.text  # no link to what they may not open
    for url in (
        "/billing/aging",
        "/billing/aging.csv",
        f"/billing/statements/{qc.patient_ids[0]}",
        f"/billing/statements/{qc.patient_ids[0]}.pdf",
    ):
        assert (await doctor.get(url, headers=PAGE)).status_code == 403, url
    admin = await people.web("admin")
    assert (await admin.get("/billing/aging", headers=PAGE)).status_code == 200
