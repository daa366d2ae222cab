"""Reopening a closed day, on SQLite and PostgreSQL: only the admin (``billing:refund``
and ``admin:settings``) with a reason; the closing is kept as history; the reopened day
takes a back-dated payment again; closing again sums it afresh into a new closing, and
the day shows both; the reopen is audited. Over the JSON API and on the page."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.day_close_models import DayClosing
from tests.billing.test_day_close import close, pay, summary, yesterday
from tests.billing.test_day_close_views import text_of
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

REASON = "A cash payment was found in the drawer after closing"


async def reopen(
    client: httpx.AsyncClient, day: str, qc: QueueClinic, reason: str | None = REASON
) -> httpx.Response:
    body: dict[str, Any] = {"location_id": str(qc.location_id)}
    if reason is not None:
        body["reason"] = reason
    return await client.post(f"/api/v1/billing/days/{day}/reopen", json=body)


async def late_payment(client: httpx.AsyncClient, qc: QueueClinic, amount: int) -> httpx.Response:
    return await client.post(
        "/api/v1/payments",
        json={
            "patient_id": str(qc.patient_ids[0]),
            "method": "cash",
            "amount": amount,
            "location_id": str(qc.location_id),
            "received_at": yesterday(),
            "allocations": [],
        },
    )


async def test_reopen_takes_a_late_payment_and_the_new_close_counts_it(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    desk = await people.api("desk")
    admin = await people.api("admin")
    day = (await pay(desk, qc, 3000, received_at=yesterday()))["business_date"]
    first = await close(billing, day, qc, {"method": "cash", "amount": 3000}, note="first count")
    assert first.status_code == 201, first.text
    first_id = first.json()["closing"]["id"]
    assert (await late_payment(desk, qc, 700)).status_code == 409  # closed: refused

    reopened = await reopen(admin, day, qc)
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert body["closed"] is False and body["closing"] is None
    [kept] = body["history"]
    assert kept["id"] == first_id and kept["reopen_reason"] == REASON
    assert kept["reopened_at"] is not None and kept["reopened_by_name"]
    assert (kept["expected_total"], kept["counted_total"]) == (3000, 3000)  # never rewritten

    late = await late_payment(desk, qc, 700)
    assert late.status_code == 201, late.text
    assert late.json()["business_date"] == day
    assert (await summary(desk, day, qc))["expected_total"] == 3700

    # A close without the new cash counted is refused; with it, a new closing.
    assert (await close(billing, day, qc)).status_code == 422
    again = await close(billing, day, qc, {"method": "cash", "amount": 3700})
    assert again.status_code == 201, again.text
    closing = again.json()["closing"]
    assert closing["id"] != first_id
    assert (closing["expected_total"], closing["counted_total"]) == (3700, 3700)
    shown = await summary(desk, day, qc)
    assert shown["closed"] is True and shown["closing"]["id"] == closing["id"]
    assert [(h["id"], h["expected_total"], h["reopen_reason"]) for h in shown["history"]] == [
        (first_id, 3000, REASON),
        (closing["id"], 3700, None),
    ]
    assert shown["history"][0]["note"] == "first count"
    # Closed again: the late money is refused once more.
    assert (await late_payment(desk, qc, 100)).status_code == 409

    listed = await billing.get(
        "/api/v1/billing/day-closings", params={"location_id": str(qc.location_id)}
    )
    assert {c["id"] for c in listed.json()["items"]} == {first_id, closing["id"]}
    rows = (
        await session.scalars(
            select(DayClosing).where(DayClosing.business_date == date.fromisoformat(day))
        )
    ).all()
    assert len(rows) == 2

    [entry] = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "day.reopened"))
    ).all()
    assert str(entry.resource_id) == first_id
    assert entry.details is not None and entry.details["reason"] == REASON
    assert entry.details["business_date"] == day
    assert entry.changes is not None and "reopened_at" in entry.changes
    closes = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "day.closed"))
    ).all()
    assert len(closes) == 2


async def test_reopen_needs_the_admin_a_reason_and_a_closed_day(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    desk = await people.api("desk")
    admin = await people.api("admin")
    doctor = await people.api("doctor")
    day = (await pay(desk, qc, 1000, received_at=yesterday()))["business_date"]
    assert (await reopen(admin, day, qc)).status_code == 409  # not closed yet
    closed = await close(billing, day, qc, {"method": "cash", "amount": 1000})
    assert closed.status_code == 201, closed.text

    # The clerks who close may not reopen: billing, the front desk, a doctor.
    for clerk in (billing, desk, doctor):
        refused = await reopen(clerk, day, qc)
        assert refused.status_code == 403, refused.text
    missing = await reopen(admin, day, qc, reason=None)
    assert missing.status_code == 422
    short = await reopen(admin, day, qc, reason="  oops  ")
    assert short.status_code == 422 and "at least 15 characters" in short.text
    blank = await reopen(admin, day, qc, reason=" " * 20)
    assert blank.status_code == 422
    assert (await summary(desk, day, qc))["closed"] is True
    assert (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "day.reopened"))
    ).all() == []

    assert (await reopen(admin, day, qc)).status_code == 200
    twice = await reopen(admin, day, qc)
    assert twice.status_code == 409 and twice.json()["type"].endswith(":day-not-closed")


async def test_the_page_reopens_and_shows_every_closing(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    desk = await people.api("desk")
    day = (await pay(desk, qc, 2000, received_at=yesterday()))["business_date"]
    assert (await close(billing, day, qc, {"method": "cash", "amount": 2000})).status_code == 201
    address = f"/billing/day-close?business_date={day}&location={qc.location_id}"
    form = {"business_date": day, "location_id": str(qc.location_id)}

    admin = await people.web("admin")
    page = await admin.get(address)
    assert page.status_code == 200 and "Reopen the day" in page.text
    clerk = await people.web("desk")
    assert "Reopen the day" not in (await clerk.get(address)).text
    assert (
        await clerk.post("/billing/day-close/reopen", data={**form, "reason": REASON})
    ).status_code == 403

    short = await admin.post("/billing/day-close/reopen", data={**form, "reason": "typo"})
    assert short.status_code == 400
    assert "at least 15 characters" in short.text and ">typo</textarea>" in short.text
    done = await admin.post("/billing/day-close/reopen", data={**form, "reason": REASON})
    assert done.status_code == 303 and done.headers["location"] == address
    shown = text_of((await admin.get(address)).text)
    assert "is open again" in shown and "Reopened" in shown and REASON in shown
    assert "Closings of this day" in shown and "Close the day" in shown

    assert (await late_payment(desk, qc, 500)).status_code == 201
    assert (
        await close(billing, day, qc, {"method": "cash", "amount": 2400, "reason": "100 short"})
    ).status_code == 201
    shown = text_of((await clerk.get(address)).text)
    assert "The closing" in shown and "25.00" in shown and "24.00" in shown
    assert "20.00" in shown and REASON in shown and "In force" in shown
