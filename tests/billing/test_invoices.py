"""Invoices over the JSON API, on SQLite and PostgreSQL: the fee schedule's versions,
drafting and editing, discounts and taxes, issuing (immutable afterwards), credit notes
and their limits, idempotent creation, and problem+json for bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from tests.billing.conftest import draft, fee, if_match, issue
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


async def test_a_price_change_adds_a_version_and_never_rewrites_an_invoice(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    item = await fee(
        desk,
        code="CONS",
        billing_code="99213",
        name="Consultation",
        unit_price=5000,
        tax_rates=[{"name": "VAT", "rate": "20"}],
        active_from="2020-01-01",
    )
    assert item["currency"] == "USD"
    invoice = await draft(desk, qc.patient_ids[0], {"fee_item_id": item["id"]})
    assert invoice["lines"][0]["unit_price"] == 5000
    assert invoice["total"] == 6000

    repriced = await desk.post(
        f"/api/v1/fee-schedule/{item['id']}/versions",
        json={"unit_price": 5500, "active_from": "2021-01-01"},
        headers=if_match(item),
    )
    assert repriced.status_code == 201, repriced.text
    assert repriced.json()["previous_id"] == item["id"]
    history = (await desk.get("/api/v1/fee-schedule", params={"code": "CONS"})).json()["items"]
    assert [(v["unit_price"], v["active_to"]) for v in history] == [
        (5000, "2020-12-31"),
        (5500, None),
    ]
    current = (await desk.get("/api/v1/fee-schedule")).json()["items"]
    assert [v["unit_price"] for v in current] == [5500]

    # The draft keeps the price it copied.
    again = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert again["lines"][0]["unit_price"] == 5000
    # The old version is out of force today: a new line of it is refused, the new one goes.
    old_line = await desk.post(
        f"/api/v1/invoices/{invoice['id']}/lines", json={"fee_item_id": item["id"]}
    )
    assert old_line.status_code == 409
    assert "no price in force" in old_line.json()["detail"]

    # A second code of the same name is refused; deactivating ends the current version.
    taken = await desk.post(
        "/api/v1/fee-schedule", json={"code": "CONS", "name": "X", "unit_price": 1}
    )
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    new = repriced.json()
    ended = await desk.post(
        f"/api/v1/fee-schedule/{new['id']}/deactivate",
        json={"active_to": "2021-06-30"},
        headers=if_match(new),
    )
    assert ended.status_code == 200, ended.text
    assert (await desk.get("/api/v1/fee-schedule")).json()["items"] == []


async def test_a_draft_is_edited_then_issued_and_then_immutable(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession
) -> None:
    item = await fee(
        desk,
        code="ECG",
        name="ECG",
        unit_price=2999,
        tax_rates=[{"name": "State", "rate": "5"}, {"name": "City", "rate": "2.5"}],
        active_from="2020-01-01",
    )
    invoice = await draft(
        desk,
        qc.patient_ids[0],
        {"fee_item_id": item["id"], "quantity": "2"},
        {
            "name": "Bandage",
            "unit_price": 333,
            "quantity": "3",
            "discount_percent": "10",
            "discount_reason": "Loyal patient",
        },
    )
    ecg, bandage = invoice["lines"]
    # ECG: 5998, taxes 299.9 -> 300 and 149.95 -> 150; bandage: 999 - 99.9 -> 100 = 899.
    assert (ecg["gross"], ecg["tax"], ecg["total"]) == (5998, 450, 6448)
    assert (bandage["gross"], bandage["line_discount"], bandage["total"]) == (999, 100, 899)
    assert invoice["total"] == 6448 + 899 == invoice["amount_due"]

    discounted = await desk.put(
        f"/api/v1/invoices/{invoice['id']}/discount",
        json={"discount_amount": 697, "discount_reason": "Staff"},
        headers=if_match(invoice),
    )
    assert discounted.status_code == 200, discounted.text
    body = discounted.json()
    assert sum(line["invoice_discount"] for line in body["lines"]) == 697
    assert body["total"] == sum(line["total"] for line in body["lines"])

    # A stale If-Match is refused, a current one changes the line.
    stale = await desk.put(
        f"/api/v1/invoices/{invoice['id']}/lines/{bandage['id']}",
        json={"quantity": "1"},
        headers=if_match(invoice),
    )
    assert stale.status_code == 412
    changed = await desk.put(
        f"/api/v1/invoices/{invoice['id']}/lines/{bandage['id']}",
        json={"quantity": "1"},
        headers=if_match(body),
    )
    assert changed.status_code == 200, changed.text
    removed = await desk.delete(
        f"/api/v1/invoices/{invoice['id']}/lines/{bandage['id']}", headers=if_match(changed.json())
    )
    assert removed.status_code == 200, removed.text
    assert [line["name"] for line in removed.json()["lines"]] == ["ECG"]

    issued = await issue(desk, removed.json())
    year = issued["issue_date"][:4]
    assert issued["status"] == "issued"
    assert issued["number"] == f"INV-{year}-000001"
    assert issued["amount_due"] == issued["total"]

    for refused in (
        await desk.post(
            f"/api/v1/invoices/{invoice['id']}/lines", json={"name": "X", "unit_price": 1}
        ),
        await desk.put(
            f"/api/v1/invoices/{invoice['id']}/discount", json={}, headers=if_match(issued)
        ),
        await desk.post(f"/api/v1/invoices/{invoice['id']}/issue", headers=if_match(issued)),
    ):
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:clinicdesk:problem:invoice-issued"
        assert "credit note" in refused.json()["detail"]

    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == invoice["id"])
        )
    )
    assert {
        "invoice.drafted",
        "invoice.discounted",
        "invoice.line_changed",
        "invoice.line_removed",
        "invoice.issued",
    } <= actions


async def test_credit_notes_never_credit_more_than_was_invoiced(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    invoice = await draft(
        desk,
        qc.patient_ids[0],
        {"name": "Visit", "unit_price": 10000, "tax_rates": [{"name": "VAT", "rate": "10"}]},
        {"name": "Dressing", "unit_price": 500},
    )
    refused_draft = await billing.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes", json={"reason": "Too early"}
    )
    assert refused_draft.status_code == 409
    issued = await issue(desk, invoice)
    visit, dressing = issued["lines"]
    url = f"/api/v1/invoices/{invoice['id']}/credit-notes"

    part = await billing.post(
        url,
        json={
            "reason": "Shorter visit",
            "lines": [{"invoice_line_id": visit["id"], "amount": 5500}],
        },
    )
    assert part.status_code == 201, part.text
    note = part.json()
    assert note["number"] == f"CN-{issued['issue_date'][:4]}-000001"
    assert (note["total"], note["tax_total"]) == (5500, 500)

    too_much = await billing.post(
        url,
        json={"reason": "Again", "lines": [{"invoice_line_id": visit["id"], "amount": 5501}]},
    )
    assert too_much.status_code == 409
    assert too_much.json()["left"] == 5500
    assert "at most 55.00 USD" in too_much.json()["detail"]

    rest = await billing.post(url, json={"reason": "Cancelled"})
    assert rest.status_code == 201, rest.text
    assert rest.json()["total"] == 5500 + dressing["total"]
    assert rest.json()["number"].endswith("000002")
    nothing_left = await billing.post(url, json={"reason": "Once more"})
    assert nothing_left.status_code == 409

    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert after["credited_total"] == after["total"]
    assert after["amount_due"] == 0
    listed = (await desk.get(url)).json()["items"]
    assert [n["number"][-6:] for n in listed] == ["000001", "000002"]


async def test_money_creating_posts_honour_idempotency_keys(
    desk: httpx.AsyncClient, billing: httpx.AsyncClient, qc: QueueClinic
) -> None:
    body = {"patient_id": str(qc.patient_ids[0]), "lines": [{"name": "X", "unit_price": 100}]}
    key = {"Idempotency-Key": f"draft-{uuid.uuid4()}"}
    first = await desk.post("/api/v1/invoices", json=body, headers=key)
    second = await desk.post("/api/v1/invoices", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotency-Replayed"] == "true"
    listed = (
        await desk.get("/api/v1/invoices", params={"patient_id": str(qc.patient_ids[0])})
    ).json()
    assert len(listed["items"]) == 1

    issue_key = {**if_match(first.json()), "Idempotency-Key": f"issue-{uuid.uuid4()}"}
    url = f"/api/v1/invoices/{first.json()['id']}/issue"
    once = await desk.post(url, headers=issue_key)
    twice = await desk.post(url, headers=issue_key)
    assert once.status_code == twice.status_code == 200
    assert once.json()["number"] == twice.json()["number"]

    credit_key = {"Idempotency-Key": f"credit-{uuid.uuid4()}"}
    credit_url = f"/api/v1/invoices/{first.json()['id']}/credit-notes"
    c1 = await billing.post(credit_url, json={"reason": "Refund"}, headers=credit_key)
    c2 = await billing.post(credit_url, json={"reason": "Refund"}, headers=credit_key)
    assert c1.status_code == c2.status_code == 201
    assert c1.json()["id"] == c2.json()["id"]
    reused = await billing.post(credit_url, json={"reason": "Other"}, headers=credit_key)
    assert reused.status_code == 422


async def test_the_list_filters_by_patient_status_and_dates(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    ann, ben = qc.patient_ids[:2]
    a = await draft(desk, ann, {"name": "A", "unit_price": 100})
    await draft(desk, ben, {"name": "B", "unit_price": 100})
    issued = await issue(desk, a)

    async def ids(**params: Any) -> set[str]:
        found = await desk.get("/api/v1/invoices", params=params)
        assert found.status_code == 200, found.text
        return {i["id"] for i in found.json()["items"]}

    assert await ids(patient_id=str(ann)) == {a["id"]}
    assert len(await ids(status="draft")) == 1
    assert await ids(status="issued") == {a["id"]}
    day = issued["issue_date"]
    assert a["id"] in await ids(date_from=day, date_to=day)
    assert await ids(date_to="2000-01-01") == set()
    paged = (await desk.get("/api/v1/invoices", params={"limit": 1})).json()
    assert len(paged["items"]) == 1 and paged["next_cursor"]


async def test_bad_input_answers_problem_json_never_500(
    desk: httpx.AsyncClient, qc: QueueClinic, people: People
) -> None:
    patient = str(qc.patient_ids[0])
    invoice = await draft(desk, qc.patient_ids[0])
    cases: list[tuple[str, str, Any, int]] = [
        ("POST", "/api/v1/invoices", {"patient_id": patient, "lines": [{"name": "X"}]}, 422),
        (
            "POST",
            "/api/v1/invoices",
            {"patient_id": patient, "lines": [{"name": "X", "unit_price": 1.5}]},
            422,
        ),
        (
            "POST",
            "/api/v1/invoices",
            {"patient_id": patient, "lines": [{"name": "X", "unit_price": -1}]},
            422,
        ),
        (
            "POST",
            "/api/v1/invoices",
            {"patient_id": patient, "lines": [{"name": "X", "unit_price": 1, "quantity": "0"}]},
            422,
        ),
        (
            "POST",
            "/api/v1/invoices",
            {
                "patient_id": patient,
                "lines": [{"name": "X", "unit_price": 1, "discount_percent": "5"}],
            },
            422,
        ),
        (
            "POST",
            "/api/v1/invoices",
            {
                "patient_id": patient,
                "lines": [
                    {
                        "name": "X",
                        "unit_price": 1,
                        "discount_percent": "101",
                        "discount_reason": "r",
                    }
                ],
            },
            422,
        ),
        ("POST", "/api/v1/invoices", {"patient_id": str(uuid.uuid4())}, 404),
        (
            "POST",
            "/api/v1/invoices",
            {"patient_id": patient, "lines": [{"fee_item_id": str(uuid.uuid4())}]},
            404,
        ),
        ("POST", "/api/v1/fee-schedule", {"code": "A B", "name": "X", "unit_price": 1}, 422),
        (
            "POST",
            "/api/v1/fee-schedule",
            {
                "code": "T",
                "name": "X",
                "unit_price": 1,
                "tax_rates": [{"name": "V", "rate": "NaN"}],
            },
            422,
        ),
        ("POST", "/api/v1/fee-schedule", {"code": "T", "name": "X", "unit_price": 10**14}, 422),
        (
            "POST",
            "/api/v1/fee-schedule",
            {"code": "T", "name": "X", "unit_price": 1, "appointment_type_id": str(uuid.uuid4())},
            404,
        ),
        ("GET", "/api/v1/invoices?status=paid", None, 422),
        ("GET", "/api/v1/invoices?cursor=nonsense", None, 400),
        ("GET", f"/api/v1/invoices/{uuid.uuid4()}", None, 404),
        (
            "PUT",
            f"/api/v1/invoices/{invoice['id']}/discount",
            {"discount_amount": 1, "discount_reason": "r"},
            422,
        ),
        (
            "PUT",
            "/api/v1/billing/number-formats",
            {"invoice_number_format": "{seq}", "credit_note_number_format": "CN-{year}-{seq}"},
            422,
        ),
    ]
    for method, url, body, status in cases:
        headers = {"If-Match": "*"} if method == "PUT" else {}
        answer = await desk.request(method, url, json=body, headers=headers)
        assert answer.status_code == status, (url, body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"], answer.text
    no_if_match = await desk.post(f"/api/v1/invoices/{invoice['id']}/issue")
    assert no_if_match.status_code == 428
    empty = await desk.post(f"/api/v1/invoices/{invoice['id']}/issue", headers=if_match(invoice))
    assert empty.status_code == 409
    assert "no lines" in empty.json()["detail"]
    # Doctors and nurses hold no billing permission.
    doctor = await people.api("doctor")
    assert (await doctor.get("/api/v1/invoices")).status_code == 403


async def test_the_number_format_is_the_organizations_own(
    desk: httpx.AsyncClient, qc: QueueClinic
) -> None:
    formats = await desk.get("/api/v1/billing/number-formats")
    assert formats.json()["invoice_number_format"] == "INV-{year}-{seq:06d}"
    changed = await desk.put(
        "/api/v1/billing/number-formats",
        json={
            "invoice_number_format": "F{year}/{seq:04d}",
            "credit_note_number_format": "G{year}/{seq}",
        },
        headers={"If-Match": formats.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    issued = await issue(desk, await draft(desk, qc.patient_ids[0], {"name": "X", "unit_price": 1}))
    assert issued["number"] == f"F{issued['issue_date'][:4]}/0001"
