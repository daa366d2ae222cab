"""Insurance claims over the JSON API, on SQLite and PostgreSQL: a claim from an issued
invoice through submission, acceptance and remittances to paid; the steps that are
refused; the amounts (patient share, secondary claims, never more than is due); who may
do what; the audit trail of every change."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from tests.billing.claims_support import claim, issued_invoice, payer, policy, step
from tests.billing.conftest import draft
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


async def test_a_claim_goes_from_draft_to_paid_and_every_step_is_audited(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    patient = qc.patient_ids[0]
    acme = await payer(people)
    cover = await policy(desk, patient, acme)
    invoice = await issued_invoice(desk, patient)
    assert invoice["amount_due"] == 7000

    made = await claim(desk, invoice_id=invoice["id"], eligibility_note="Checked by phone")
    assert made["status"] == "draft"
    assert made["policy_id"] == cover["id"]  # the primary policy by default
    assert made["payer_id"] == acme and made["payer_name"] == "Acme Health"
    assert (made["amount_claimed"], made["patient_share"]) == (7000, 0)
    assert made["invoice_number"] == invoice["number"]
    assert made["service_date"] == invoice["issue_date"]
    assert [
        (i["sequence"], i["billing_code"], i["code"], i["net"], i["tax"], i["total"])
        for i in made["items"]
    ] == [(1, "99213", "CONS", 5000, 1000, 6000), (2, None, None, 1000, 0, 1000)]

    submitted = await step(desk, made, "submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted" and submitted.json()["submitted_at"]
    accepted = await step(
        desk, submitted.json(), "accept", amount_approved=6000, payer_reference="ACME-1"
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["amount_approved"] == 6000

    url = f"/api/v1/claims/{made['id']}/remittances"
    first = await desk.post(
        url, json={"amount": 2500, "payer_reference": "EFT-1"}, headers={"Idempotency-Key": "r1"}
    )
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["amount_paid"]) == ("partially_paid", 2500)
    # The same request again (a retry) records nothing new.
    again = await desk.post(
        url, json={"amount": 2500, "payer_reference": "EFT-1"}, headers={"Idempotency-Key": "r1"}
    )
    assert again.status_code == 201
    assert again.headers.get("Idempotency-Replayed") == "true"
    last = await desk.post(
        url,
        json={"amount": 3000, "adjustment": 500, "adjustment_reason": "Contractual write-off"},
    )
    assert last.status_code == 201, last.text
    paid = last.json()
    assert (paid["status"], paid["amount_paid"], paid["amount_adjusted"]) == ("paid", 5500, 500)
    assert [(r["amount"], r["adjustment"]) for r in paid["remittances"]] == [(2500, 0), (3000, 500)]
    assert paid["payer_reference"] == "ACME-1"
    # Each remittance posted an insurance payment to the invoice: 7000 - 5500 still owed
    # (the 500 written off stays the patient's to settle or credit).
    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert (after["amount_paid"], after["amount_due"]) == (5500, 1500)
    posted = (await desk.get("/api/v1/payments", params={"patient_id": str(patient)})).json()
    assert sorted((p["method"], p["amount"], p["reference"]) for p in posted["items"]) == [
        ("insurance", 2500, "EFT-1"),
        ("insurance", 3000, f"Claim {made['id']}"),
    ]
    balance = (await desk.get(f"/api/v1/patients/{patient}/balance")).json()
    assert balance["balance"] == 1500

    more = await desk.post(url, json={"amount": 1})
    assert more.status_code == 409
    assert more.headers["content-type"].startswith("application/problem+json")

    read = await desk.get(f"/api/v1/claims/{made['id']}")
    assert read.status_code == 200
    assert read.headers["ETag"] == f'W/"{paid["version"]}"'
    assert "no-store" in read.headers["cache-control"]

    await session.rollback()
    entries = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.resource_type == "claim", AuditEvent.resource_id == made["id"])
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    actions = [e.action for e in entries if not e.action.startswith("patient.")]
    assert sorted(actions) == sorted(
        [
            "claim.created",
            "claim.submitted",
            "claim.accepted",
            "claim.remittance_recorded",
            "claim.remittance_recorded",
        ]
    )
    accepted_entry = next(e for e in entries if e.action == "claim.accepted")
    assert accepted_entry.patient_id == patient
    assert accepted_entry.changes is not None
    assert accepted_entry.changes["status"] == {"before": "submitted", "after": "accepted"}
    assert accepted_entry.changes["amount_approved"] == {"before": None, "after": 6000}
    reads = [e for e in entries if e.action == "patient.viewed"]
    assert reads, "reading a claim is a read of the patient's data"


async def test_steps_out_of_order_are_refused_and_a_rejected_claim_frees_the_invoice(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    patient = qc.patient_ids[0]
    await policy(desk, patient, await payer(people))
    invoice = await issued_invoice(desk, patient)
    made = await claim(desk, invoice_id=invoice["id"])

    # A draft is neither accepted, rejected nor paid.
    assert (await step(desk, made, "accept", amount_approved=100)).status_code == 409
    assert (await step(desk, made, "reject", reason="x")).status_code == 409
    paid = await desk.post(f"/api/v1/claims/{made['id']}/remittances", json={"amount": 100})
    assert paid.status_code == 409
    assert "draft" in paid.json()["detail"]
    # Versions: none is 428, a stale one 412.
    bare = await desk.post(f"/api/v1/claims/{made['id']}/submit")
    assert bare.status_code == 428
    submitted = (await step(desk, made, "submit")).json()
    stale = await step(desk, made, "submit")
    assert stale.status_code == 412
    twice = await step(desk, submitted, "submit")
    assert twice.status_code == 409
    assert "submitted" in twice.json()["detail"]

    too_much = await step(desk, submitted, "accept", amount_approved=7001)
    assert too_much.status_code == 409
    no_reason = await step(desk, submitted, "reject", reason="")
    assert no_reason.status_code == 422
    rejected = await step(desk, submitted, "reject", reason="Member not eligible on date")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["rejection_reason"] == "Member not eligible on date"
    for action, body in (("accept", {"amount_approved": 1}), ("submit", {})):
        assert (await step(desk, rejected.json(), action, **body)).status_code == 409
    late = await desk.post(f"/api/v1/claims/{made['id']}/remittances", json={"amount": 100})
    assert late.status_code == 409

    # The rejected claim no longer holds the invoice: a corrected claim may be made.
    again = await claim(desk, invoice_id=invoice["id"], amount_claimed=5000)
    assert (again["amount_claimed"], again["patient_share"]) == (5000, 2000)


async def test_claims_that_cannot_be_made_are_refused_with_a_reason(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    ann, ben = qc.patient_ids[0], qc.patient_ids[1]
    acme = await payer(people)
    other = await payer(people, "Blue Mutual", "BLUE")

    # No policy on file.
    invoice = await issued_invoice(desk, ann)
    none = await desk.post("/api/v1/claims", json={"invoice_id": invoice["id"]})
    assert none.status_code == 409
    assert "no primary insurance policy" in none.json()["detail"]
    # A draft invoice.
    primary = await policy(desk, ann, acme)
    unissued = await draft(desk, ann, {"name": "Dressing", "unit_price": 1000})
    drafted = await desk.post("/api/v1/claims", json={"invoice_id": unissued["id"]})
    assert drafted.status_code == 409
    assert "issued" in drafted.json()["detail"]
    # Another patient's policy is not found on this patient's chart.
    bens = await policy(desk, ben, acme)
    foreign = await desk.post(
        "/api/v1/claims", json={"invoice_id": invoice["id"], "policy_id": bens["id"]}
    )
    assert foreign.status_code == 404
    # A policy that starts after the invoice's date.
    later = (date.fromisoformat(invoice["issue_date"]) + timedelta(days=30)).isoformat()
    future = await policy(desk, ann, other, priority="tertiary", valid_from=later)
    out = await desk.post(
        "/api/v1/claims", json={"invoice_id": invoice["id"], "policy_id": future["id"]}
    )
    assert out.status_code == 409
    assert "not in force" in out.json()["detail"]
    # More than is due; a bad amount.
    over = await desk.post(
        "/api/v1/claims", json={"invoice_id": invoice["id"], "amount_claimed": 7001}
    )
    assert over.status_code == 409
    assert over.json()["left"] == 7000
    for bad in (0, -5, "12.5", 1.5):
        wrong = await desk.post(
            "/api/v1/claims", json={"invoice_id": invoice["id"], "amount_claimed": bad}
        )
        assert wrong.status_code == 422, bad
    # An unknown invoice.
    missing = await desk.post("/api/v1/claims", json={"invoice_id": str(uuid.uuid4())})
    assert missing.status_code == 404

    # The primary claims part; a second open claim under it is refused.
    first = await claim(desk, invoice_id=invoice["id"], amount_claimed=4000)
    assert (first["policy_id"], first["patient_share"]) == (primary["id"], 3000)
    dup = await desk.post("/api/v1/claims", json={"invoice_id": invoice["id"]})
    assert dup.status_code == 409
    assert "already has an open claim" in dup.json()["detail"]
    # A secondary policy in force claims the rest, and no more.
    secondary = await policy(desk, ann, other, priority="secondary")
    rest = await claim(desk, invoice_id=invoice["id"], policy_id=secondary["id"])
    assert (rest["amount_claimed"], rest["patient_share"], rest["priority"]) == (
        3000,
        0,
        "secondary",
    )
    # A remittance beyond the claimed amount (no approval yet: the claimed one counts).
    submitted = (await step(desk, first, "submit")).json()
    beyond = await desk.post(
        f"/api/v1/claims/{submitted['id']}/remittances",
        json={"amount": 3500, "adjustment": 600, "adjustment_reason": "x"},
    )
    assert beyond.status_code == 409
    assert beyond.json()["left"] == 4000
    unreasoned = await desk.post(
        f"/api/v1/claims/{submitted['id']}/remittances", json={"amount": 0, "adjustment": 100}
    )
    assert unreasoned.status_code == 422
    ahead = await desk.post(
        f"/api/v1/claims/{submitted['id']}/remittances",
        json={"amount": 100, "received_on": "2999-01-01"},
    )
    assert ahead.status_code == 422
    exact = await desk.post(f"/api/v1/claims/{submitted['id']}/remittances", json={"amount": 4000})
    assert exact.json()["status"] == "paid"  # paid straight from submitted


async def test_the_list_filters_and_pages(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    acme = await payer(people)
    blue = await payer(people, "Blue Mutual", "BLUE")
    made: list[dict[str, Any]] = []
    for index, patient in enumerate(qc.patient_ids[:3]):
        await policy(desk, patient, acme if index < 2 else blue)
        made.append(await claim(desk, invoice_id=(await issued_invoice(desk, patient))["id"]))
    await step(desk, made[0], "submit")

    async def ids(**params: Any) -> list[str]:
        answer = await desk.get("/api/v1/claims", params=params)
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()["items"]]

    assert await ids() == [c["id"] for c in reversed(made)]
    assert await ids(payer_id=acme) == [made[1]["id"], made[0]["id"]]
    assert await ids(status="submitted") == [made[0]["id"]]
    assert await ids(status="draft", payer_id=blue) == [made[2]["id"]]
    today = made[0]["service_date"]
    assert len(await ids(date_from=today, date_to=today)) == 3
    assert await ids(date_to="2000-01-01") == []
    assert await ids(date_from="0001-01-01", date_to="9999-12-31") != []
    assert await ids(patient_id=str(qc.patient_ids[1])) == [made[1]["id"]]
    first = (await desk.get("/api/v1/claims", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (
        await desk.get("/api/v1/claims", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [c["id"] for c in rest["items"]] == [made[0]["id"]] and rest["next_cursor"] is None
    assert (await desk.get("/api/v1/claims", params={"status": "lost"})).status_code == 422


async def test_who_may_read_and_change_claims(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    patient = qc.patient_ids[0]
    await policy(desk, patient, await payer(people))
    invoice = await issued_invoice(desk, patient)
    made = await claim(desk, invoice_id=invoice["id"])
    doctor = await people.api("doctor")
    admin = await people.api("admin")
    for client, path, allowed in (
        (doctor, "/api/v1/claims", False),
        (doctor, f"/api/v1/claims/{made['id']}", False),
        (admin, "/api/v1/claims", True),
        (admin, f"/api/v1/claims/{made['id']}", True),
        (admin, f"/api/v1/claims/{made['id']}/fhir", True),
        (admin, "/api/v1/claims/export.csv", True),
    ):
        answer = await client.get(path)
        assert answer.status_code == (200 if allowed else 403), (path, answer.text)
    # The admin reads billing but does not change it; the doctor does neither.
    for client in (admin, doctor):
        assert (
            await client.post("/api/v1/claims", json={"invoice_id": invoice["id"]})
        ).status_code == 403
        assert (await step(client, made, "submit")).status_code == 403
        refused = await client.post(f"/api/v1/claims/{made['id']}/remittances", json={"amount": 1})
        assert refused.status_code == 403


async def test_odd_payloads_are_422_not_500(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    patient = qc.patient_ids[0]
    await policy(desk, patient, await payer(people))
    made = await claim(desk, invoice_id=(await issued_invoice(desk, patient))["id"])
    submitted = (await step(desk, made, "submit")).json()
    url = f"/api/v1/claims/{made['id']}/remittances"
    bodies: list[dict[str, Any]] = [
        {"amount": 0.0, "adjustment": 5, "payer_reference": None, "adjustment_reason": None},
        {"amount": 1, "payer_reference": "x" * 81},
        {"amount": 1, "payer_reference": "bad\u202etext"},
        {"amount": 1, "unknown": 1},
    ]
    for body in bodies:
        answer = await desk.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
    rejections: list[dict[str, Any]] = [
        {"reason": None},
        {"reason": "ok", "payer_reference": "y" * 81},
    ]
    for rejection in rejections:
        answer = await step(desk, submitted, "reject", **rejection)
        assert answer.status_code == 422, (rejection, answer.text)
    fine = await step(desk, submitted, "accept", amount_approved=100, payer_reference="")
    assert fine.status_code == 200, fine.text
    assert fine.json()["payer_reference"] is None
