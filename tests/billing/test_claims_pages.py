"""The insurance claims pages over the same services as the API, on both databases: the
list (status, payer, a search by invoice number or patient, pages, the totals of what is
found, its CSV), a claim made from the invoice page and taken through each step on its
page (submit, a partial approval, a remittance that pays the invoice), a rejection, the
refusals in words with their status (a stale form 412, a step the status does not allow
409, a missing reason 422), the downloads, and who may (a doctor has no billing:read;
the admin reads with the member number masked and changes nothing)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.billing.views import claims as claim_views
from tests.billing.claims_support import claim, issued_invoice, payer, policy, step
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

MEMBER = "MBR778899"  # as stored: the policy form's "MBR-778899" normalized
MASKED = "•••••8899"


def version_of(html: str, action: str) -> str:
    """The version the form posting to ``action`` was built from."""
    form = re.search(rf'action="[^"]*/{action}"(.*?)</form>', html, re.S)
    assert form is not None, html
    found = re.search(r'name="version" value="(\d+)"', form.group(1))
    assert found is not None, form.group(1)
    return found.group(1)


@pytest.fixture
async def web_desk(people: People) -> httpx.AsyncClient:
    return await people.web("desk")


async def test_the_list_filters_searches_pages_and_totals(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    people: People,
    qc: QueueClinic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme, zen = await payer(people), await payer(people, "Zen Mutual", "ZEN")
    ann, ben = qc.patient_ids[0], qc.patient_ids[1]
    await policy(desk, ann, acme)
    await policy(desk, ben, zen)
    first = await issued_invoice(desk, ann)  # 70.00
    second = await issued_invoice(desk, ben)
    ann_claim = await claim(desk, invoice_id=first["id"])
    ben_claim = await claim(desk, invoice_id=second["id"], amount_claimed=5000)
    submitted = await step(desk, ben_claim, "submit")
    accepted = await step(desk, submitted.json(), "accept", amount_approved=4000)
    assert accepted.status_code == 200, accepted.text

    page = await web_desk.get("/billing/claims")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"  # patient data: the app's own header
    assert first["number"] in page.text and second["number"] in page.text
    assert "Ann Queuea" in page.text and "Ben Queueb" in page.text
    # Newest first.
    assert page.text.index(second["number"]) < page.text.index(first["number"])
    assert "Acme Health" in page.text and "Zen Mutual" in page.text
    # Totals of what is found: 70.00 + 50.00 claimed, 40.00 approved, nothing paid.
    totals = page.text.split('class="claim-totals"')[1].split("</section>")[0]
    assert "120.00" in totals and "40.00" in totals and "<dd>2</dd>" in totals

    drafts = (await web_desk.get("/billing/claims", params={"status": "draft"})).text
    assert first["number"] in drafts and second["number"] not in drafts
    assert "70.00" in drafts.split('class="claim-totals"')[1].split("</section>")[0]
    by_payer = (await web_desk.get("/billing/claims", params={"payer_id": zen})).text
    assert second["number"] in by_payer and first["number"] not in by_payer
    # An empty choice ("Any") is no filter.
    anything = await web_desk.get("/billing/claims", params={"status": "", "payer_id": ""})
    assert anything.status_code == 200 and first["number"] in anything.text

    by_number = (await web_desk.get("/billing/claims", params={"q": first["number"][-6:]})).text
    assert first["number"] in by_number and second["number"] not in by_number
    by_name = (await web_desk.get("/billing/claims", params={"q": "Ben Queueb"})).text
    assert second["number"] in by_name and first["number"] not in by_name
    nothing = (await web_desk.get("/billing/claims", params={"q": "Nobody Atall"})).text
    assert "No claims match these filters" in nothing and "claim-totals" not in nothing

    monkeypatch.setattr(claim_views, "PAGE_SIZE", 1)
    one = (await web_desk.get("/billing/claims")).text
    assert second["number"] in one and first["number"] not in one.split("<table")[1]
    cursor = re.search(r'cursor=([^"&]+)">Next page', one)
    assert cursor is not None
    two = (await web_desk.get(f"/billing/claims?cursor={cursor.group(1)}")).text
    assert first["number"] in two and "Next page" not in two and "First page" in two
    # The totals stay those of every page.
    assert "120.00" in two.split('class="claim-totals"')[1].split("</section>")[0]

    exported = await web_desk.get("/billing/claims/export.csv", params={"payer_id": acme})
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["claim_id"] for r in rows} == {ann_claim["id"]}
    assert rows[0]["member_number"] == MEMBER  # the desk may change policies: in clear

    # The billing navigation leads here.
    assert 'href="/billing/claims"' in (await web_desk.get("/invoices")).text


async def test_a_claim_from_the_invoice_page_through_each_step(
    desk: httpx.AsyncClient,
    web_desk: httpx.AsyncClient,
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
) -> None:
    ann = qc.patient_ids[0]
    acme = await payer(people)
    cover = await policy(desk, ann, acme, plan_name="Gold")
    invoice = await issued_invoice(desk, ann)
    url = f"/invoices/{invoice['id']}"

    shown = (await web_desk.get(url)).text
    assert "Claim from insurer" in shown and "Acme Health · primary · Gold" in shown
    assert MEMBER not in shown  # the invoice page never shows the member number
    # More than is left is refused on the invoice page, in words, with its status.
    too_much = await web_desk.post(
        f"{url}/claims", data={"policy_id": cover["id"], "amount_claimed": "80.00"}
    )
    assert too_much.status_code == 409
    assert "At most 70.00 USD" in too_much.text and "Insurance claims" in too_much.text
    made = await web_desk.post(
        f"{url}/claims",
        data={"policy_id": cover["id"], "amount_claimed": "60.00", "eligibility_note": "By phone"},
    )
    assert made.status_code == 303, made.text
    claim_url = made.headers["location"]
    assert re.fullmatch(r"/billing/claims/[0-9a-f-]{36}", claim_url)
    page = await web_desk.get(claim_url)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "A draft claim to Acme Health" in text  # the one-time message
    assert invoice["number"] in text and "Ann Queuea" in text and "Gold" in text
    assert MEMBER in text  # the desk holds patients:insurance: in clear, and recorded
    assert "By phone" in text and "60.00" in text and "10.00" in text  # the patient's share
    assert "Drafted" in text  # the history
    assert "Record a remittance" not in text and "Record the payer" not in text
    shown = (await web_desk.get(url)).text
    assert f'href="{claim_url}"' in shown and "Draft" in shown and "60.00 claimed" in shown
    # One open claim per policy: no second form.
    assert "Claim from insurer" not in shown
    revealed = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "patient.identifier_revealed",
            AuditEvent.resource_id == cover["id"],
        )
    )
    assert [e.details for e in revealed] == [{"field": "member_number", "in": "claim page"}]

    submitted = await web_desk.post(
        f"{claim_url}/submit", data={"version": version_of(text, "submit")}
    )
    assert submitted.status_code == 303, submitted.text
    text = (await web_desk.get(claim_url)).text
    assert "The claim was submitted to Acme Health." in text and "Submitted to the payer" in text
    # The submit form is gone; a second post of it (built from the old version) is
    # refused in words, with the stale-form status, and changes nothing.
    assert f"{claim_url}/submit" not in text
    again = await web_desk.post(f"{claim_url}/submit", data={"version": "0"})
    assert again.status_code == 412
    assert "Someone else changed this claim" in again.text

    decided = await web_desk.post(
        f"{claim_url}/decision",
        data={
            "version": version_of(text, "decision"),
            "outcome": "partial",
            "amount_approved": "45.00",
            "payer_reference": "ACME-77",
        },
    )
    assert decided.status_code == 303, decided.text
    text = (await web_desk.get(claim_url)).text
    assert "The claim was accepted for 45.00 USD." in text and "Accepted" in text
    assert "ACME-77" in text and "45.00" in text

    stale = await web_desk.post(
        f"{claim_url}/remittances", data={"version": "1", "amount": "45.00"}
    )
    assert stale.status_code == 412 and "Someone else changed this claim" in stale.text
    paid = await web_desk.post(
        f"{claim_url}/remittances",
        data={
            "version": version_of(text, "remittances"),
            "amount": "30.00",
            "payer_reference": "EFT-1",
        },
    )
    assert paid.status_code == 303, paid.text
    text = (await web_desk.get(claim_url)).text
    assert "A remittance of 30.00 USD was recorded and paid to invoice" in text
    assert "Partially paid" in text and "EFT-1" in text and "Remittance recorded" in text
    # Sent twice (the same form): the version is the old one, nothing is paid again.
    twice = await web_desk.post(
        f"{claim_url}/remittances",
        data={"version": "2", "amount": "30.00", "payer_reference": "EFT-1"},
    )
    assert twice.status_code == 412
    # The insurance payment was posted to the invoice: 70.00 - 30.00 due.
    after = (await desk.get(f"/api/v1/invoices/{invoice['id']}")).json()
    assert (after["amount_paid"], after["amount_due"]) == (3000, 4000)
    assert "40.00 USD" in (await web_desk.get(url)).text

    too_much = await web_desk.post(
        f"{claim_url}/remittances",
        data={"version": version_of(text, "remittances"), "amount": "20.00"},
    )
    assert too_much.status_code == 409 and "At most 15.00 USD" in too_much.text
    assert 'value="20.00"' in too_much.text  # what was typed is shown again

    fhir = await web_desk.get(f"{claim_url}/claim.fhir.json")
    assert fhir.status_code == 200 and fhir.headers["content-type"] == "application/fhir+json"
    assert "attachment" in fhir.headers["content-disposition"]
    resource = json.loads(fhir.text)
    assert resource["resourceType"] == "Claim" and resource["total"]["value"] == 70
    one = await web_desk.get(f"{claim_url}/claim.csv")
    rows = list(csv.DictReader(io.StringIO(one.text)))
    assert len(rows) == 2 and {r["claim_id"] for r in rows} == {claim_url.rsplit("/", 1)[1]}


async def test_a_rejection_and_the_steps_refused(
    desk: httpx.AsyncClient, web_desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    acme = await payer(people)
    await policy(desk, qc.patient_ids[0], acme)
    invoice = await issued_invoice(desk, qc.patient_ids[0])
    made = await claim(desk, invoice_id=invoice["id"])
    url = f"/billing/claims/{made['id']}"
    # A draft is not decided yet: the step is refused in words (409).
    early = await web_desk.post(
        f"{url}/decision", data={"version": str(made["version"]), "outcome": "full"}
    )
    assert early.status_code == 409 and "A draft claim cannot be accepted" in early.text
    await web_desk.post(f"{url}/submit", data={"version": str(made["version"])})
    text = (await web_desk.get(url)).text
    version = version_of(text, "decision")

    no_reason = await web_desk.post(
        f"{url}/decision", data={"version": version, "outcome": "rejected"}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    assert 'aria-invalid="true"' in no_reason.text
    over = await web_desk.post(
        f"{url}/decision",
        data={"version": version, "outcome": "partial", "amount_approved": "99.00"},
    )
    assert over.status_code == 409 and "more than was claimed" in over.text
    rejected = await web_desk.post(
        f"{url}/decision",
        data={"version": version, "outcome": "rejected", "reason": "Not covered"},
    )
    assert rejected.status_code == 303, rejected.text
    text = (await web_desk.get(url)).text
    assert "Rejected" in text and "Not covered" in text
    assert "Record a remittance" not in text and "Next step" not in text
    late = await web_desk.post(
        f"{url}/remittances", data={"version": str(made["version"] + 2), "amount": "10.00"}
    )
    assert late.status_code == 409 and "takes no remittance" in late.text
    # A rejected claim leaves the invoice free to claim again.
    assert "Claim from insurer" in (await web_desk.get(f"/invoices/{invoice['id']}")).text


async def test_who_may_read_and_act(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic
) -> None:
    acme = await payer(people)
    await policy(desk, qc.patient_ids[0], acme)
    invoice = await issued_invoice(desk, qc.patient_ids[0])
    made = await claim(desk, invoice_id=invoice["id"])
    url = f"/billing/claims/{made['id']}"

    doctor = await people.web("doctor")  # no billing:read
    for path in ("/billing/claims", url, f"{url}/claim.fhir.json", "/billing/claims/export.csv"):
        assert (await doctor.get(path)).status_code == 403, path
    # The admin reads billing (the member number masked: no patients:insurance) but
    # changes nothing: no forms, and a post is refused.
    admin = await people.web("admin")
    page = await admin.get(url)
    assert page.status_code == 200
    assert MASKED in page.text and MEMBER not in page.text and "(masked)" in page.text
    assert "/submit" not in page.text and "Next step" not in page.text
    refused = await admin.post(f"{url}/submit", data={"version": str(made["version"])})
    assert refused.status_code == 403
    assert "Claim from insurer" not in (await admin.get(f"/invoices/{invoice['id']}")).text
    refused = await admin.post(f"/invoices/{invoice['id']}/claims", data={})
    assert refused.status_code == 403
    # An unknown claim is not found, before its form is read.
    web_desk = await people.web("desk")
    missing = await web_desk.post(f"/billing/claims/{uuid.uuid4()}/submit", data={"version": "1"})
    assert missing.status_code == 404
