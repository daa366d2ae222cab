"""Payments over the JSON API, on SQLite and PostgreSQL: one payment across invoices,
oldest-first allocation, overpayment kept as credit and applied later, refunds (with
their limits and what they release), voids (kept, allocations undone), a credit note on
a paid invoice, balances, idempotent retries, who may do what, audit entries, filters,
and problem+json for bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from tests.billing.conftest import draft, issue
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic
from tests.support.sql import statements_of


async def invoice_of(desk: httpx.AsyncClient, patient_id: object, amount: int) -> dict[str, Any]:
    return await issue(desk, await draft(desk, patient_id, {"name": "Visit", "unit_price": amount}))


async def pay(desk: httpx.AsyncClient, patient_id: object, **body: Any) -> dict[str, Any]:
    made = await desk.post(
        "/api/v1/payments", json={"patient_id": str(patient_id), "method": "cash", **body}
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def get(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def balance(client: httpx.AsyncClient, patient_id: object) -> dict[str, Any]:
    found = await get(client, f"/api/v1/patients/{patient_id}/balance")
    assert found["balance"] == found["owed"] - found["credit_available"]
    return found


async def test_one_payment_pays_several_invoices_and_the_rest_is_credit(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    ann = qc.patient_ids[0]
    first = await invoice_of(desk, ann, 3000)
    second = await invoice_of(desk, ann, 5000)
    paid = await pay(
        desk,
        ann,
        method="card",
        amount=10000,
        reference="auth 1234",
        allocations=[
            {"invoice_id": first["id"], "amount": 3000},
            {"invoice_id": second["id"], "amount": 2000},
        ],
    )
    assert (paid["allocated"], paid["unallocated"], paid["status"]) == (5000, 5000, "recorded")
    assert paid["method"] == "card" and paid["currency"] == "USD"
    assert [a["amount"] for a in paid["allocations"]] == [3000, 2000]
    one = await get(desk, f"/api/v1/invoices/{first['id']}")
    two = await get(desk, f"/api/v1/invoices/{second['id']}")
    assert (one["amount_paid"], one["amount_due"], one["payment_state"]) == (3000, 0, "paid")
    assert (two["amount_paid"], two["amount_due"], two["payment_state"]) == (
        2000,
        3000,
        "part_paid",
    )
    assert (await balance(desk, ann))["credit_available"] == 5000

    # The credit pays the rest of the second invoice and part of a third.
    applied = await desk.post(f"/api/v1/invoices/{second['id']}/apply-credit", json={})
    assert applied.status_code == 201, applied.text
    assert (applied.json()["applied"], applied.json()["amount_due"]) == (3000, 0)
    third = await invoice_of(desk, ann, 4000)
    assert third["payment_state"] == "unpaid"
    applied = await desk.post(f"/api/v1/invoices/{third['id']}/apply-credit", json={"amount": 500})
    assert applied.status_code == 201, applied.text
    assert applied.json()["allocations"][0]["kind"] == "credit"
    assert (applied.json()["amount_paid"], applied.json()["amount_due"]) == (500, 3500)
    more = await desk.post(f"/api/v1/invoices/{third['id']}/apply-credit", json={"amount": 2000})
    assert more.status_code == 409
    assert more.json()["credit_available"] == 1500
    figures = await balance(desk, ann)
    assert figures == {
        "patient_id": str(ann),
        "currency": "USD",
        "invoiced": 12000,
        "credited": 0,
        "paid": 10000,
        "refunded": 0,
        "balance": 2000,
        "owed": 3500,
        "credit_available": 1500,
    }


async def test_without_allocations_the_oldest_invoices_are_paid_first(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    ben = qc.patient_ids[1]
    old = await invoice_of(desk, ben, 1000)
    new = await invoice_of(desk, ben, 1000)
    paid = await pay(desk, ben, amount=1500)
    assert [(a["invoice_id"], a["amount"]) for a in paid["allocations"]] == [
        (old["id"], 1000),
        (new["id"], 500),
    ]
    # An empty list keeps it all as credit.
    kept = await pay(desk, ben, amount=700, allocations=[])
    assert (kept["allocated"], kept["unallocated"]) == (0, 700)
    assert (await balance(desk, ben))["balance"] == 500 - 700


async def test_a_payment_over_two_invoices_is_written_by_one_flush(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    """The payment's row goes in once, already allocated (no UPDATE after its INSERT),
    and its three entries go in as one multi-row INSERT, in the order they were made:
    the statements a payment costs at the desk, on both databases."""
    dee = qc.patient_ids[3]
    first = await invoice_of(desk, dee, 1000)
    second = await invoice_of(desk, dee, 2000)
    body = {
        "allocations": [
            {"invoice_id": first["id"], "amount": 1000},
            {"invoice_id": second["id"], "amount": 1500},
        ]
    }
    with statements_of(session) as seen:
        paid = await pay(desk, dee, amount=3000, **body)
    writes = [s.split(" (")[0] for s in seen if s.startswith(("INSERT", "UPDATE"))]
    assert writes.count("INSERT INTO payments") == 1
    assert not [w for w in writes if w.startswith("UPDATE payments")]
    assert writes.count("INSERT INTO payment_allocations") == 1
    assert len([w for w in writes if w.startswith("INSERT INTO audit_events")]) == 1
    assert paid["version"] == 1 and (paid["allocated"], paid["unallocated"]) == (2500, 500)
    assert (await get(desk, f"/api/v1/invoices/{second['id']}"))["amount_due"] == 500
    entries = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == uuid.UUID(str(dee)))
            .where(AuditEvent.action.in_(["payment.recorded", "invoice.paid"]))
            .order_by(AuditEvent.seq)
        )
    ).all()
    assert [(e.action, e.resource_id) for e in entries] == [
        ("payment.recorded", paid["id"]),
        ("invoice.paid", first["id"]),
        ("invoice.paid", second["id"]),
    ]
    assert entries[0].changes is not None and entries[0].changes["allocated"] == {"after": 0}
    assert entries[2].changes == {
        "amount_paid": {"before": 0, "after": 1500},
        "amount_due": {"before": 2000, "after": 500},
    }
    assert all(e.seq is not None for e in entries)  # chained after the commit


async def test_refunds_and_voids_follow_their_rules(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    cy = qc.patient_ids[2]
    invoice = await invoice_of(desk, cy, 6000)
    paid = await pay(desk, cy, method="card", amount=8000)
    assert (paid["allocated"], paid["unallocated"]) == (6000, 2000)
    url = f"/api/v1/payments/{paid['id']}"

    # The front desk takes payments but gives nothing back.
    for path, body in (
        ("/refunds", {"amount": 100, "reason": "x"}),
        ("/void", {"reason": "x"}),
    ):
        assert (await desk.post(url + path, json=body)).status_code == 403
    credit_note = await desk.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes", json={"reason": "x"}
    )
    assert credit_note.status_code == 403

    # A refund takes the credit first, then releases the invoice (owed again).
    first = await billing.post(url + "/refunds", json={"amount": 2500, "reason": "Overcharged"})
    assert first.status_code == 201, first.text
    assert (first.json()["method"], first.json()["amount"]) == ("card", 2500)
    after = await get(billing, f"/api/v1/invoices/{invoice['id']}")
    assert (after["amount_paid"], after["amount_due"]) == (5500, 500)
    too_much = await billing.post(url + "/refunds", json={"amount": 5501, "reason": "x"})
    assert too_much.status_code == 409
    assert too_much.json()["left"] == 5500  # minor units for a program, money for people:
    assert "At most 55.00 USD" in too_much.json()["detail"]
    assert "55.01 USD was asked" in too_much.json()["detail"]
    # A payment with refunds is not voided.
    refused = await billing.post(url + "/void", json={"reason": "Wrong patient"})
    assert refused.status_code == 409
    assert "refund the rest" in refused.json()["detail"]
    figures = await balance(billing, cy)
    assert (figures["paid"], figures["refunded"], figures["balance"]) == (8000, 2500, 500)

    # A void keeps the payment, undoes its allocations, and is audited.
    other = await pay(desk, cy, amount=500)
    assert other["allocated"] == 500
    voided = await billing.post(
        f"/api/v1/payments/{other['id']}/void", json={"reason": "Taken twice"}
    )
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert (body["status"], body["void_reason"], body["allocated"], body["unallocated"]) == (
        "voided",
        "Taken twice",
        0,
        0,
    )
    assert [a["kind"] for a in body["allocations"]] == ["payment", "voided"]
    assert (await get(billing, f"/api/v1/invoices/{invoice['id']}"))["amount_due"] == 500
    again = await billing.post(f"/api/v1/payments/{other['id']}/void", json={"reason": "x"})
    assert again.status_code == 409
    nothing = await billing.post(
        f"/api/v1/payments/{other['id']}/refunds", json={"amount": 1, "reason": "x"}
    )
    assert nothing.status_code == 409
    assert (await get(billing, f"/api/v1/payments/{other['id']}"))["status"] == "voided"
    assert (await balance(billing, cy))["balance"] == 500

    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == uuid.UUID(str(cy)))
        )
    )
    assert {
        "payment.recorded",
        "payment.refunded",
        "refund.issued",
        "payment.voided",
        "invoice.paid",
        "invoice.payment_released",
    } <= actions


async def test_a_credit_note_on_a_paid_invoice_becomes_credit_to_refund(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    dee = qc.patient_ids[3]
    invoice = await invoice_of(desk, dee, 4000)
    paid = await pay(desk, dee, amount=4000)
    line = invoice["lines"][0]
    note = await billing.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes",
        json={
            "reason": "Shorter visit",
            "lines": [{"invoice_line_id": line["id"], "amount": 1500}],
        },
    )
    assert note.status_code == 201, note.text
    after = await get(billing, f"/api/v1/invoices/{invoice['id']}")
    assert (after["credited_total"], after["amount_paid"], after["amount_due"]) == (1500, 2500, 0)
    assert after["payment_state"] == "paid"
    assert (await balance(billing, dee))["credit_available"] == 1500
    refund = await billing.post(
        f"/api/v1/payments/{paid['id']}/refunds", json={"amount": 1500, "reason": "Shorter visit"}
    )
    assert refund.status_code == 201, refund.text
    assert (await get(billing, f"/api/v1/invoices/{invoice['id']}"))["amount_due"] == 0
    figures = await balance(billing, dee)
    assert (figures["balance"], figures["owed"], figures["credit_available"]) == (0, 0, 0)


async def test_retries_with_an_idempotency_key_take_the_money_once(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    eve = qc.patient_ids[4]
    invoice = await invoice_of(desk, eve, 1000)
    body = {"patient_id": str(eve), "method": "cash", "amount": 3000}
    key = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
    first = await desk.post("/api/v1/payments", json=body, headers=key)
    second = await desk.post("/api/v1/payments", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotency-Replayed"] == "true"
    reused = await desk.post("/api/v1/payments", json={**body, "amount": 1}, headers=key)
    assert reused.status_code == 422
    listed = await get(desk, f"/api/v1/payments?patient_id={eve}")
    assert len(listed["items"]) == 1

    refund_url = f"/api/v1/payments/{first.json()['id']}/refunds"
    refund_key = {"Idempotency-Key": f"refund-{uuid.uuid4()}"}
    for _ in range(2):
        done = await billing.post(
            refund_url, json={"amount": 700, "reason": "x"}, headers=refund_key
        )
        assert done.status_code == 201, done.text
    assert (await get(billing, f"/api/v1/payments/{first.json()['id']}"))["refunded"] == 700

    second_invoice = await invoice_of(desk, eve, 5000)
    credit_key = {"Idempotency-Key": f"credit-{uuid.uuid4()}"}
    credit_url = f"/api/v1/invoices/{second_invoice['id']}/apply-credit"
    for _ in range(2):
        done = await desk.post(credit_url, json={}, headers=credit_key)
        assert done.status_code == 201, done.text
        assert done.json()["applied"] == 1300
    figures = await balance(desk, eve)
    assert (figures["paid"], figures["refunded"], figures["credit_available"]) == (3000, 700, 0)
    assert figures["owed"] == 5000 - 1300
    assert (await get(desk, f"/api/v1/invoices/{invoice['id']}"))["amount_due"] == 0


async def test_the_list_filters_and_pages(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    fay, gus = qc.patient_ids[4:6]
    cash = await pay(desk, fay, amount=100, location_id=str(qc.location_id))
    card = await pay(desk, fay, amount=200, method="card")
    await pay(desk, gus, amount=300, method="bank_transfer")
    await billing.post(f"/api/v1/payments/{card['id']}/void", json={"reason": "x"})

    async def ids(**params: Any) -> list[str]:
        found = await desk.get("/api/v1/payments", params=params)
        assert found.status_code == 200, found.text
        return [p["id"] for p in found.json()["items"]]

    assert set(await ids(patient_id=str(fay))) == {cash["id"], card["id"]}
    assert await ids(patient_id=str(fay), method="cash") == [cash["id"]]
    assert await ids(patient_id=str(fay), status="voided") == [card["id"]]
    assert await ids(location_id=str(qc.location_id)) == [cash["id"]]
    day = cash["business_date"]
    assert len(await ids(date_from=day, date_to=day)) == 3
    assert await ids(date_to="2000-01-01") == []
    page = (await desk.get("/api/v1/payments", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (
        await desk.get("/api/v1/payments", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_bad_input_answers_a_clear_4xx_never_500(
    desk: httpx.AsyncClient, qc: QueueClinic, people: People
) -> None:
    ann, ben = qc.patient_ids[:2]
    invoice = await invoice_of(desk, ann, 1000)
    drafted = await draft(desk, ann, {"name": "Later", "unit_price": 100})
    theirs = await invoice_of(desk, ben, 1000)

    async def post(**body: Any) -> httpx.Response:
        return await desk.post(
            "/api/v1/payments",
            json={"patient_id": str(ann), "method": "cash", "amount": 1000, **body},
        )

    def allocation(target: dict[str, Any], amount: int) -> list[dict[str, Any]]:
        return [{"invoice_id": target["id"], "amount": amount}]

    cases: list[tuple[httpx.Response, int, str]] = [
        (await post(amount=0), 422, "greater than 0"),
        (await post(amount=-5), 422, "greater than 0"),
        (await post(amount=12.5), 422, "integer"),
        (await post(amount="12.50"), 422, "integer"),
        (await post(method="cheque"), 422, "cash"),
        (await post(currency="EUR"), 422, "taken in USD"),
        (await post(amount=2000, allocations=allocation(invoice, 1001)), 409, "asks for 10.00 USD"),
        (await post(allocations=allocation(drafted, 100)), 409, "issue it first"),
        (await post(allocations=allocation(theirs, 100)), 422, "another patient"),
        (
            await post(amount=500, allocations=allocation(invoice, 600)),
            422,
            "more than the payment",
        ),
        (await post(allocations=allocation(invoice, 1) * 2), 422, "at most once"),
        (await post(received_at="2999-01-01T00:00:00Z"), 422, "future"),
        (await post(received_at="2020-01-01T00:00:00"), 422, "timezone"),
        (
            await post(allocations=[{"invoice_id": str(uuid.uuid4()), "amount": 1}]),
            404,
            "No invoice",
        ),
        (await post(patient_id=str(uuid.uuid4())), 404, ""),
        (await post(location_id=str(uuid.uuid4())), 404, ""),
        (await post(organization_id=str(uuid.uuid4()), extra=1), 422, "xtra"),
        (
            await desk.post(f"/api/v1/invoices/{drafted['id']}/apply-credit", json={}),
            409,
            "issue it first",
        ),
        (
            await desk.post(f"/api/v1/invoices/{invoice['id']}/apply-credit", json={}),
            409,
            "no credit",
        ),
        (await desk.get("/api/v1/payments", params={"cursor": "nonsense"}), 400, "cursor"),
        (await desk.get(f"/api/v1/payments/{uuid.uuid4()}"), 404, "No payment"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.text, response.text
    # Nothing of the refused payments was kept.
    assert (await balance(desk, ann))["paid"] == 0
    # A doctor has no billing:read.
    doctor = await people.api("doctor")
    assert (await doctor.get("/api/v1/payments")).status_code == 403
    assert (await doctor.get(f"/api/v1/patients/{ann}/balance")).status_code == 403
