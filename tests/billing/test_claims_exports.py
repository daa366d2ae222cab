"""Claims leaving the clinic, on SQLite and PostgreSQL: the FHIR R4 ``Claim`` (validated
by the fhir.resources models, exact decimal amounts, the member number only for those who
may see it) and the CSV for payers' spreadsheets (filters, formula-safe cells)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import httpx
from fhir.resources.R4B.claim import Claim as FhirClaim
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from tests.billing.claims_support import claim, issued_invoice, payer, policy, step
from tests.billing.conftest import draft, issue
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


async def test_the_fhir_claim_validates_and_carries_the_claim(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    patient = qc.patient_ids[0]
    acme = await payer(people)
    cover = await policy(desk, patient, acme, plan_name="Gold")
    invoice = await issued_invoice(desk, patient)
    made = await claim(desk, invoice_id=invoice["id"])

    answer = await desk.get(f"/api/v1/claims/{made['id']}/fhir")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert "no-store" in answer.headers["cache-control"]
    # Amounts are exact decimals in the text itself, never floats.
    assert '"unitPrice": {"value": 50.00, "currency": "USD"}' in answer.text
    resource = json.loads(answer.text, parse_float=Decimal)
    model = FhirClaim.model_validate(resource)  # raises on anything R4(B) does not allow
    # What the model read back is what was sent (no field dropped or coerced away).
    assert model.model_dump(mode="json", exclude_none=True)["item"][0]["sequence"] == 1
    assert (model.status, model.use) == ("draft", "claim")

    assert resource["type"]["coding"][0]["code"] == "professional"
    assert resource["patient"]["reference"] == f"Patient/{patient}"
    assert resource["insurer"] == {
        "display": "Acme Health",
        "identifier": {"system": "urn:clinicdesk:payer-code", "value": "ACME"},
    }
    assert resource["priority"]["coding"][0]["code"] == "normal"
    assert resource["provider"]["display"]
    focal = resource["insurance"][0]
    assert (focal["sequence"], focal["focal"]) == (1, True)
    assert focal["coverage"]["identifier"]["value"] == "MBR778899"  # the desk may see it
    assert "Gold" in focal["coverage"]["display"]
    items = [
        (
            i["sequence"],
            [c["code"] for c in i["productOrService"].get("coding", [])],
            i["quantity"]["value"],
            i["unitPrice"]["value"],
            i["net"]["value"],
        )
        for i in resource["item"]
    ]
    assert items == [
        (1, ["99213", "CONS"], Decimal(1), Decimal("50.00"), Decimal("60.00")),
        (2, [], Decimal(1), Decimal("10.00"), Decimal("10.00")),
    ]
    assert resource["item"][1]["productOrService"]["text"] == "Dressing"
    assert resource["total"] == {"value": Decimal("70.00"), "currency": "USD"}
    assert resource["created"][:10] == made["created_at"][:10]

    # Once submitted the resource is active.
    await step(desk, made, "submit")
    submitted = FhirClaim.model_validate_json(
        (await desk.get(f"/api/v1/claims/{made['id']}/fhir")).text
    )
    assert submitted.status == "active"

    # The admin reads billing but not members' numbers: masked in the display only.
    admin = await people.api("admin")
    masked = (await admin.get(f"/api/v1/claims/{made['id']}/fhir")).json()
    FhirClaim.model_validate(masked)
    coverage = masked["insurance"][0]["coverage"]
    assert "identifier" not in coverage
    assert "MBR778899" not in json.dumps(masked)
    assert coverage["display"].endswith("8899")

    await session.rollback()
    reveals = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.identifier_revealed",
                AuditEvent.resource_id == cover["id"],
            )
        )
    ).all()
    assert len(reveals) == 2  # the desk's two exports; the admin's masked one none
    assert all(e.patient_id == patient for e in reveals)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_csv_filters_and_never_carries_a_formula(
    desk: httpx.AsyncClient, people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    ann, ben = qc.patient_ids[0], qc.patient_ids[1]
    acme = await payer(people, name='=HYPERLINK("http://x")', code="+ACME")
    blue = await payer(people, name="Blue Mutual", code="BLUE")
    await policy(desk, ann, acme, group_number="@GRP", plan_name="-Plan")
    await policy(desk, ben, blue)
    first = await claim(desk, invoice_id=(await issued_invoice(desk, ann))["id"])
    odd = await issue(
        desk,
        await draft(desk, ben, {"name": "=cmd|' /C calc'!A0", "unit_price": 1250}),
    )
    second = await claim(desk, invoice_id=odd["id"], amount_claimed=1000)
    await step(desk, second, "submit")

    answer = await desk.get("/api/v1/claims/export.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = rows_of(answer.text)
    assert [r["claim_id"] for r in rows] == [second["id"], first["id"], first["id"]]
    by_claim = {r["claim_id"]: r for r in rows}
    acme_row = by_claim[first["id"]]
    assert acme_row["payer"] == '\'=HYPERLINK("http://x")'
    assert acme_row["payer_code"] == "'+ACME"
    assert acme_row["group_number"] == "'@GRP"
    assert acme_row["plan_name"] == "'-Plan"
    assert acme_row["member_number"] == "MBR778899"
    assert acme_row["amount_claimed"] == "70.00"
    assert [(r["item"], r["billing_code"], r["item_total"]) for r in rows[1:]] == [
        ("1", "99213", "60.00"),
        ("2", "", "10.00"),
    ]
    blue_row = by_claim[second["id"]]
    assert blue_row["description"] == "'=cmd|' /C calc'!A0"
    assert (blue_row["amount_claimed"], blue_row["patient_share"]) == ("10.00", "2.50")
    assert blue_row["status"] == "submitted"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value

    async def ids(client: httpx.AsyncClient, **params: str) -> list[str]:
        found = await client.get("/api/v1/claims/export.csv", params=params)
        assert found.status_code == 200, found.text
        return [r["claim_id"] for r in rows_of(found.text)]

    assert await ids(desk, payer_id=blue) == [second["id"]]
    assert await ids(desk, status="draft") == [first["id"], first["id"]]
    day = first["service_date"]
    assert len(await ids(desk, date_from=day, date_to=day)) == 3
    assert await ids(desk, date_to="2001-01-01") == []
    bad = await desk.get("/api/v1/claims/export.csv", params={"status": "lost"})
    assert bad.status_code == 422

    # Masked for the admin, who may read billing but not change policies.
    admin = await people.api("admin")
    theirs = rows_of((await admin.get("/api/v1/claims/export.csv")).text)
    numbers = {r["member_number"] for r in theirs}
    assert "MBR778899" not in numbers and any(n.endswith("8899") for n in numbers)

    await session.rollback()
    exports: list[Any] = list(
        (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "claims.exported"))
        ).all()
    )
    assert len(exports) == 6
    assert {e.details["member_numbers"] for e in exports} == {"clear", "masked"}
    listed = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.listed"))
    ).all()
    assert any((e.details or {}).get("view") == "claims export" for e in listed)
