"""Outstanding balances over the JSON API, on SQLite and PostgreSQL: the aging buckets'
boundaries, credit notes and paid invoices, the filters, sorting and pages, the CSV, a
patient's statement with its running balance, who may read them, and the audit trail."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.service.aging_export import text_cell
from clinicdesk.core.pagination import encode_cursor
from clinicdesk.core.tenancy import scope_to_tenant
from tests.billing.conftest import draft, issue
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


def line(amount: int, name: str = "Consultation") -> dict[str, Any]:
    return {"name": name, "unit_price": amount}


async def invoice_of(
    desk: httpx.AsyncClient, patient_id: object, amount: int, **body: Any
) -> dict[str, Any]:
    made = await desk.post(
        "/api/v1/invoices",
        json={"patient_id": str(patient_id), "lines": [line(amount)], **body},
    )
    assert made.status_code == 201, made.text
    return await issue(desk, made.json())


async def aging(desk: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    answer = await desk.get("/api/v1/billing/aging", params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def buckets(report_or_row: dict[str, Any]) -> tuple[int, int, int, int]:
    b = report_or_row.get("totals") or report_or_row.get("buckets") or report_or_row
    return (b["days_0_30"], b["days_31_60"], b["days_61_90"], b["over_90"])


async def set_issue_date(
    session: AsyncSession, qc: QueueClinic, invoice_id: str, day: date
) -> None:
    """Back-date an issued invoice (as if issued that day): the API issues today."""
    await scope_to_tenant(session, qc.organization_id)
    await session.execute(
        update(Invoice).where(Invoice.id == uuid.UUID(invoice_id)).values(issue_date=day)
    )
    await session.commit()


async def test_bucket_boundaries_are_inclusive_at_30_60_90(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    invoice = await invoice_of(desk, qc.patient_ids[0], 1000)
    issued = date.fromisoformat(invoice["issue_date"])
    expected = {
        -1: None,  # not issued yet on that day
        0: (1000, 0, 0, 0),
        30: (1000, 0, 0, 0),
        31: (0, 1000, 0, 0),
        60: (0, 1000, 0, 0),
        61: (0, 0, 1000, 0),
        90: (0, 0, 1000, 0),
        91: (0, 0, 0, 1000),
        400: (0, 0, 0, 1000),
    }
    for days, want in expected.items():
        report = await aging(desk, as_of=(issued + timedelta(days=days)).isoformat())
        if want is None:
            assert report["items"] == [] and report["patients"] == 0, days
            assert report["totals"]["total"] == 0
            continue
        assert buckets(report) == want, days
        [row] = report["items"]
        assert buckets(row) == want, days
        assert row["balance"] == 1000
        assert row["patient_id"] == str(qc.patient_ids[0])
        assert row["oldest_issue_date"] == invoice["issue_date"]
    assert report["currency"] == "USD"


async def test_credit_notes_and_payments_lower_what_is_aged(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    credited = await invoice_of(desk, qc.patient_ids[0], 1000)
    part = await billing.post(
        f"/api/v1/invoices/{credited['id']}/credit-notes",
        json={
            "reason": "Overcharged",
            "lines": [{"invoice_line_id": credited["lines"][0]["id"], "amount": 300}],
        },
    )
    assert part.status_code == 201, part.text
    whole = await invoice_of(desk, qc.patient_ids[1], 500)
    gone = await billing.post(
        f"/api/v1/invoices/{whole['id']}/credit-notes", json={"reason": "Visit cancelled"}
    )
    assert gone.status_code == 201, gone.text
    paid = await invoice_of(desk, qc.patient_ids[2], 800)
    half = await invoice_of(desk, qc.patient_ids[3], 800)
    await draft(desk, qc.patient_ids[4], line(999))  # a draft is never owed
    # Payments: one in full, one in part with 100 over that stays the patient's credit.
    for invoice, amount in ((paid, 800), (half, 400)):
        taken = await desk.post(
            "/api/v1/payments",
            json={
                "patient_id": invoice["patient_id"],
                "method": "cash",
                "amount": amount,
                "allocations": [{"invoice_id": invoice["id"], "amount": min(amount, 300)}]
                if invoice is half
                else None,
            },
        )
        assert taken.status_code == 201, taken.text

    report = await aging(desk)
    owed = {row["patient_id"]: (row["balance"], row["credit"]) for row in report["items"]}
    assert owed == {str(qc.patient_ids[0]): (700, 0), str(qc.patient_ids[3]): (500, 100)}
    assert report["totals"]["total"] == 1200
    assert report["patients"] == 2
    assert report["invoices"] == 2


async def test_filters_sorting_and_pages(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    ann, ben, cleo, dev = qc.patient_ids[:4]
    today = date.fromisoformat((await invoice_of(desk, ann, 100))["issue_date"])
    old = await invoice_of(desk, ben, 200, location_id=str(qc.location_id))
    await set_issue_date(session, qc, old["id"], today - timedelta(days=100))
    await invoice_of(desk, cleo, 5000, location_id=str(qc.location_id))
    middle = await invoice_of(desk, dev, 300)
    await set_issue_date(session, qc, middle["id"], today - timedelta(days=45))

    def ids(report: dict[str, Any]) -> list[str]:
        return [row["patient_id"] for row in report["items"]]

    # Most overdue first: 90+ (Ben), then 31-60 (Dev), then by balance.
    assert ids(await aging(desk)) == [str(p) for p in (ben, dev, cleo, ann)]
    assert ids(await aging(desk, sort="balance")) == [str(p) for p in (cleo, dev, ben, ann)]
    assert ids(await aging(desk, sort="oldest")) == [str(p) for p in (ben, dev, cleo, ann)]

    here = await aging(desk, location_id=str(qc.location_id))
    assert ids(here) == [str(ben), str(cleo)]
    assert here["totals"]["total"] == 5200
    assert buckets(here) == (5000, 0, 0, 200)
    assert (await aging(desk, location_id=str(uuid.uuid4())))["items"] == []

    big = await aging(desk, min_balance=250)
    assert ids(big) == [str(dev), str(cleo)]
    assert big["totals"]["total"] == 5300 and big["patients"] == 2

    first = await aging(desk, limit=3)
    assert len(first["items"]) == 3 and first["next_cursor"]
    assert first["patients"] == 4 and first["totals"]["total"] == 5600
    rest = await aging(desk, limit=3, cursor=first["next_cursor"])
    assert ids(rest) == [str(ann)] and rest["next_cursor"] is None
    # Totals of every page, on every page.
    assert rest["totals"] == first["totals"]
    # Past the end: no rows, the same totals.
    past = await aging(desk, limit=4, cursor=encode_cursor(8))
    assert past["items"] == [] and past["totals"] == first["totals"]

    # Bad input is a problem document, never a 500.
    for params in ({"min_balance": -1}, {"sort": "name"}, {"cursor": "zzz"}, {"as_of": "x"}):
        refused = await desk.get("/api/v1/billing/aging", params=params)
        assert refused.status_code in (400, 422), (params, refused.text)
    extreme = await aging(desk, as_of="9999-12-31")
    assert extreme["as_of"] == "9000-01-01" and extreme["patients"] == 4


async def test_csv_export_has_every_row_and_the_totals(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    for patient_id, amount in zip(qc.patient_ids[:3], (1250, 99, 100000), strict=True):
        await invoice_of(desk, patient_id, amount)
    answer = await desk.get("/api/v1/billing/aging.csv", params={"sort": "balance"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["cache-control"] == "no-store"
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["patient", "mrn", "patient_id"]
    assert [r[9] for r in rows[1:4]] == ["1000.00", "12.50", "0.99"]
    assert rows[-1][0].startswith("Total, 3 patients")
    assert rows[-1][9] == "1013.49"
    # A cell a spreadsheet would run is written as text.
    assert text_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert text_cell("@SUM(A1)") == "'@SUM(A1)"
    assert text_cell("-1+1") == "'-1+1"
    assert text_cell("Ann Lee") == "Ann Lee"


async def test_statement_runs_the_balance_in_date_order(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    ann = qc.patient_ids[0]
    first = await invoice_of(desk, ann, 1000)
    today = date.fromisoformat(first["issue_date"])
    await set_issue_date(session, qc, first["id"], today - timedelta(days=40))
    second = await invoice_of(desk, ann, 600)
    note = await billing.post(
        f"/api/v1/invoices/{second['id']}/credit-notes",
        json={
            "reason": "Goodwill",
            "lines": [{"invoice_line_id": second["lines"][0]["id"], "amount": 100}],
        },
    )
    assert note.status_code == 201, note.text
    await invoice_of(desk, qc.patient_ids[1], 777)  # someone else's

    answer = await desk.get(f"/api/v1/billing/statements/{ann}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    statement = answer.json()
    assert [(x["kind"], x["charge"], x["credit"], x["balance"]) for x in statement["lines"]] == [
        ("invoice", 1000, 0, 1000),
        ("invoice", 600, 0, 1600),
        ("credit_note", 0, 100, 1500),
    ]
    assert statement["lines"][0]["date"] == (today - timedelta(days=40)).isoformat()
    assert statement["lines"][2]["number"] == note.json()["number"]
    assert second["number"] in statement["lines"][2]["description"]
    assert statement["opening_balance"] == 0
    assert statement["closing_balance"] == 1500
    assert (statement["charges"], statement["credits"]) == (1600, 100)
    assert buckets(statement["aging"]) == (500, 1000, 0, 0)
    # The closing balance is what the aging report says the patient owes (less credit).
    [row] = [r for r in (await aging(desk))["items"] if r["patient_id"] == str(ann)]
    assert row["balance"] - row["credit"] == statement["closing_balance"]

    # A period starts from its opening balance.
    recent = (
        await desk.get(f"/api/v1/billing/statements/{ann}", params={"date_from": today.isoformat()})
    ).json()
    assert recent["opening_balance"] == 1000
    assert [x["balance"] for x in recent["lines"]] == [1600, 1500]
    # As of a day before the second invoice: only the first.
    earlier = (
        await desk.get(
            f"/api/v1/billing/statements/{ann}",
            params={"as_of": (today - timedelta(days=1)).isoformat()},
        )
    ).json()
    assert earlier["closing_balance"] == 1000
    assert buckets(earlier["aging"]) == (0, 1000, 0, 0)

    missing = await desk.get(f"/api/v1/billing/statements/{uuid.uuid4()}")
    assert missing.status_code == 404

    # A payment (oldest invoice first), then part of it refunded: both on the statement,
    # and the closing balance still equals the aging balance less the credit.
    taken = await desk.post(
        "/api/v1/payments", json={"patient_id": str(ann), "method": "card", "amount": 300}
    )
    assert taken.status_code == 201, taken.text
    refund = await billing.post(
        f"/api/v1/payments/{taken.json()['id']}/refunds",
        json={"amount": 50, "reason": "Charged twice for parking"},
    )
    assert refund.status_code == 201, refund.text
    after = (await desk.get(f"/api/v1/billing/statements/{ann}")).json()
    moves = {(x["kind"], x["charge"], x["credit"]) for x in after["lines"][3:]}
    assert moves == {("payment", 0, 300), ("refund", 50, 0)}
    assert after["closing_balance"] == 1500 - 300 + 50
    [row] = [r for r in (await aging(desk))["items"] if r["patient_id"] == str(ann)]
    assert row["balance"] - row["credit"] == after["closing_balance"]


async def test_who_may_read_balances_and_the_reads_are_audited(
    people: People, desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    ann = qc.patient_ids[0]
    await invoice_of(desk, ann, 1000)
    doctor = await people.api("doctor")
    for url in (
        "/api/v1/billing/aging",
        "/api/v1/billing/aging.csv",
        f"/api/v1/billing/statements/{ann}",
    ):
        assert (await doctor.get(url)).status_code == 403, url
    admin = await people.api("admin")  # the admin reads billing
    report = await admin.get("/api/v1/billing/aging")
    assert report.status_code == 200
    statement = await admin.get(f"/api/v1/billing/statements/{ann}")
    assert statement.status_code == 200
    exported = await admin.get("/api/v1/billing/aging.csv")
    assert exported.status_code == 200

    await scope_to_tenant(session, qc.organization_id)
    for answer, action in (
        (report, "patient.listed"),
        (statement, "patient.viewed"),
        (exported, "patient.listed"),
    ):
        entries = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.request_id == answer.headers["X-Request-ID"],
                    AuditEvent.action == action,
                )
            )
        ).all()
        assert len(entries) == 1, action
        named = entries[0].patient_id == ann or str(ann) in (entries[0].details or {}).get(
            "patient_ids", []
        )
        assert named, action
