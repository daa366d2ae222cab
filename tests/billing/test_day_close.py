"""Day close over the JSON API, on SQLite and PostgreSQL: the day's expected figures
(per method and per user; refunds taken off, voided payments left out), a close with a
counted difference and its reason, the rules of a count, a closed day refusing money
dated into it (payments, refunds, voids), one close per day, idempotent retries, who may
do what, the audit entries, and another organization's location."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.day_close_models import DayClosing, DayClosingLine
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic


async def pay(
    client: httpx.AsyncClient, qc: QueueClinic, amount: int, method: str = "cash", **more: Any
) -> dict[str, Any]:
    body = {
        "patient_id": str(qc.patient_ids[0]),
        "method": method,
        "amount": amount,
        "location_id": str(qc.location_id),
        "allocations": [],
        **more,
    }
    made = await client.post("/api/v1/payments", json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat()


async def summary(client: httpx.AsyncClient, day: str, qc: QueueClinic) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/billing/days/{day}", params={"location_id": str(qc.location_id)}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def close(
    client: httpx.AsyncClient, day: str, qc: QueueClinic, *counted: dict[str, Any], **more: Any
) -> httpx.Response:
    body = {"location_id": str(qc.location_id), "counted": list(counted), **more}
    return await client.post(f"/api/v1/billing/days/{day}/close", json=body)


def by_method(found: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {m["method"]: (m["received"], m["refunded"], m["expected"]) for m in found["methods"]}


async def test_the_days_summary_per_method_and_per_user(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    desk = await people.api("desk")
    cash = await pay(desk, qc, 5000)
    day = cash["business_date"]
    await pay(billing, qc, 2000)
    await pay(desk, qc, 3000, method="card")
    voided = await pay(desk, qc, 999, method="card")
    await pay(desk, qc, 4000, method="bank_transfer")
    await pay(desk, qc, 7777, location_id=None)  # the drawer of no location
    refunded = await billing.post(
        f"/api/v1/payments/{cash['id']}/refunds", json={"amount": 1000, "reason": "overcharged"}
    )
    assert refunded.status_code == 201, refunded.text
    void = await billing.post(f"/api/v1/payments/{voided['id']}/void", json={"reason": "twice"})
    assert void.status_code == 200, void.text

    found = await summary(desk, day, qc)
    assert found["closed"] is False and found["closing"] is None
    assert found["currency"] == "USD"
    assert by_method(found) == {
        "cash": (7000, 1000, 6000),
        "card": (3000, 0, 3000),
        "bank_transfer": (4000, 0, 4000),
    }
    assert found["expected_total"] == 13000
    cash_line = next(m for m in found["methods"] if m["method"] == "cash")
    assert cash_line["payments"] == 2
    users = {(u["user_name"], u["method"]): (u["received"], u["refunded"]) for u in found["users"]}
    desk_name = users and next(u["user_name"] for u in found["users"] if u["received"] == 5000)
    assert users[(desk_name, "cash")] == (5000, 0)
    assert users[(desk_name, "card")] == (3000, 0)
    billing_cash = [
        u for u in found["users"] if u["method"] == "cash" and u["user_name"] != desk_name
    ]
    assert [(u["received"], u["refunded"], u["expected"]) for u in billing_cash] == [
        (2000, 1000, 1000)
    ]

    nowhere = await desk.get(f"/api/v1/billing/days/{day}")
    assert nowhere.status_code == 200
    assert by_method(nowhere.json())["cash"] == (7777, 0, 7777)


async def test_close_with_a_counted_difference_and_its_reason(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    desk = await people.api("desk")
    first = await pay(desk, qc, 5000, received_at=yesterday())
    day = first["business_date"]
    await pay(desk, qc, 2500, method="card", received_at=yesterday())
    await pay(desk, qc, 1200, method="insurance", received_at=yesterday())

    closed = await close(
        billing,
        day,
        qc,
        {"method": "cash", "amount": 4950, "reason": "a 0.50 coin short"},
        {"method": "card", "amount": 2500},
        note="Counted by Ann",
    )
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert body["closed"] is True
    closing = body["closing"]
    assert (closing["expected_total"], closing["counted_total"], closing["difference_total"]) == (
        8700,
        8650,
        -50,
    )
    assert closing["note"] == "Counted by Ann"
    per_method = {
        line["method"]: (line["expected"], line["counted"], line["difference"], line["reason"])
        for line in closing["lines"]
        if line["user_id"] is None
    }
    assert per_method == {
        "cash": (5000, 4950, -50, "a 0.50 coin short"),
        "card": (2500, 2500, 0, None),
        "insurance": (1200, 1200, 0, None),  # as the system says, not counted
    }
    per_user = [line for line in closing["lines"] if line["user_id"] is not None]
    assert sorted(line["expected"] for line in per_user) == [1200, 2500, 5000]
    assert all(line["counted"] is None for line in per_user)

    again = await summary(desk, day, qc)
    assert again["closed"] is True and again["closing"]["id"] == closing["id"]

    # Once: a second close is refused and changes nothing.
    second = await close(
        billing, day, qc, {"method": "cash", "amount": 5000}, {"method": "card", "amount": 2500}
    )
    assert second.status_code == 409
    assert second.json()["type"].endswith(":day-closed")
    rows = (
        await session.scalars(
            select(DayClosing).where(DayClosing.business_date == date.fromisoformat(day))
        )
    ).all()
    assert len(rows) == 1

    listed = await billing.get(
        "/api/v1/billing/day-closings", params={"location_id": str(qc.location_id)}
    )
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [closing["id"]]

    entries = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "day.closed"))
    ).all()
    assert [str(e.resource_id) for e in entries] == [closing["id"]]
    assert entries[0].details is not None
    lines = entries[0].details["lines"]
    assert {(x["method"], x["difference"], x["reason"]) for x in lines if x["user_id"] is None} == {
        ("cash", -50, "a 0.50 coin short"),
        ("card", 0, None),
        ("insurance", 0, None),
    }


async def test_a_difference_needs_its_reason_and_cash_and_card_are_counted(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    desk = await people.api("desk")
    day = (await pay(desk, qc, 3000, received_at=yesterday()))["business_date"]
    await pay(desk, qc, 800, method="card", received_at=yesterday())

    no_reason = await close(
        billing, day, qc, {"method": "cash", "amount": 2900}, {"method": "card", "amount": 800}
    )
    assert no_reason.status_code == 422
    assert "give the reason" in no_reason.text
    blank = await close(
        billing,
        day,
        qc,
        {"method": "cash", "amount": 2900, "reason": "   "},
        {"method": "card", "amount": 800},
    )
    assert blank.status_code == 422
    no_card = await close(billing, day, qc, {"method": "cash", "amount": 3000})
    assert no_card.status_code == 422
    assert "batch total" in no_card.text
    twice = await close(
        billing, day, qc, {"method": "cash", "amount": 1}, {"method": "cash", "amount": 2}
    )
    assert twice.status_code == 422
    decimal = await close(billing, day, qc, {"method": "cash", "amount": 29.5})
    assert decimal.status_code == 422
    assert (await session.scalars(select(DayClosing))).all() == []
    assert (await session.scalars(select(DayClosingLine))).all() == []

    # A day still to come cannot be closed; an empty past day can (nothing to count).
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    future = await close(billing, tomorrow, qc)
    assert future.status_code == 409 and future.json()["type"].endswith(":day-close-refused")
    empty = await close(billing, "2026-01-05", qc)
    assert empty.status_code == 201, empty.text
    assert empty.json()["closing"]["expected_total"] == 0


async def test_a_closed_day_refuses_payments_refunds_and_voids_touching_it(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    desk = await people.api("desk")
    old = await pay(desk, qc, 3000, received_at=yesterday())
    day = old["business_date"]
    closed = await close(billing, day, qc, {"method": "cash", "amount": 3000})
    assert closed.status_code == 201, closed.text

    late = await desk.post(
        "/api/v1/payments",
        json={
            "patient_id": str(qc.patient_ids[0]),
            "method": "cash",
            "amount": 100,
            "location_id": str(qc.location_id),
            "received_at": yesterday(),
        },
    )
    assert late.status_code == 409, late.text
    problem = late.json()
    assert problem["type"].endswith(":day-closed")
    assert day in problem["detail"] and "leave the received time empty" in problem["detail"]

    void = await billing.post(f"/api/v1/payments/{old['id']}/void", json={"reason": "error"})
    assert void.status_code == 409 and void.json()["type"].endswith(":day-closed")
    assert "Refund the payment instead" in void.json()["detail"]

    # Today is open: a payment today and a refund (counted today) of the old one go through.
    today = await pay(desk, qc, 500)
    assert today["business_date"] != day
    refund = await billing.post(
        f"/api/v1/payments/{old['id']}/refunds", json={"amount": 200, "reason": "goodwill"}
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["business_date"] == today["business_date"]
    # The closed day's figures did not move.
    assert (await summary(desk, day, qc))["expected_total"] == 3000

    # Close today too: now the refund and today's payments are refused.
    closed_today = await close(
        billing, today["business_date"], qc, {"method": "cash", "amount": 300}
    )
    assert closed_today.status_code == 201, closed_today.text
    refund = await billing.post(
        f"/api/v1/payments/{old['id']}/refunds", json={"amount": 100, "reason": "goodwill"}
    )
    assert refund.status_code == 409 and refund.json()["type"].endswith(":day-closed")
    now = await desk.post(
        "/api/v1/payments",
        json={
            "patient_id": str(qc.patient_ids[0]),
            "method": "card",
            "amount": 100,
            "location_id": str(qc.location_id),
        },
    )
    assert now.status_code == 409
    # Another location's drawer (here: money with no location) is a day of its own.
    elsewhere = await pay(desk, qc, 100, location_id=None)
    assert elsewhere["business_date"] == today["business_date"]


async def test_a_retried_close_is_answered_once(
    people: People, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    desk = await people.api("desk")
    day = (await pay(desk, qc, 1000, received_at=yesterday()))["business_date"]
    headers = {"Idempotency-Key": "close-1"}
    body = {"location_id": str(qc.location_id), "counted": [{"method": "cash", "amount": 1000}]}
    first = await billing.post(f"/api/v1/billing/days/{day}/close", json=body, headers=headers)
    again = await billing.post(f"/api/v1/billing/days/{day}/close", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert first.json() == again.json()
    assert len((await session.scalars(select(DayClosing))).all()) == 1


async def test_who_may_read_and_close_the_day(
    people: People,
    billing: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
) -> None:
    desk = await people.api("desk")
    doctor = await people.api("doctor")
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    day = (await pay(desk, qc, 1000, received_at=yesterday()))["business_date"]
    counted = {"method": "cash", "amount": 1000}
    # The front desk reads the expected figures and counts; a billing user closes.
    assert (await desk.get(f"/api/v1/billing/days/{day}")).status_code == 200
    assert (await close(desk, day, qc, counted)).status_code == 403
    assert (await doctor.get(f"/api/v1/billing/days/{day}")).status_code == 403
    assert (await doctor.get("/api/v1/billing/day-closings")).status_code == 403
    assert (await close(doctor, day, qc, counted)).status_code == 403
    assert (await admin.get(f"/api/v1/billing/days/{day}")).status_code == 200
    assert (await close(admin, day, qc, counted)).status_code == 201
    assert (await desk.get("/api/v1/billing/day-closings")).status_code == 200


async def test_another_organizations_location_is_not_found(
    billing: httpx.AsyncClient, session: AsyncSession, app: Any
) -> None:
    from tests.identity.test_routes import other_organization

    theirs = await other_organization(session, app.state.identity)
    location = str(theirs["location_id"])
    read = await billing.get("/api/v1/billing/days/2026-01-05", params={"location_id": location})
    assert read.status_code == 404
    closed = await billing.post(
        "/api/v1/billing/days/2026-01-05/close", json={"location_id": location}
    )
    assert closed.status_code == 404
    assert (await session.scalars(select(DayClosing))).all() == []
