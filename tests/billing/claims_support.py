"""What the claims tests share: a payer (added by the admin, who keeps the payer list),
a policy on a patient's chart (added by the desk), and an issued invoice to claim."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.claim_schemas import ClaimCreate
from clinicdesk.billing.schemas import InvoiceCreate, LineAdd
from clinicdesk.billing.service import claims, invoices, issuing
from clinicdesk.core.actor import Actor
from tests.billing.conftest import draft, fee, if_match, issue
from tests.clinical.conftest import People


async def payer(people: People, name: str = "Acme Health", code: str | None = "ACME") -> str:
    admin = await people.api("admin")
    made = await admin.post("/api/v1/payers", json={"name": name, "code": code})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def policy(
    desk: httpx.AsyncClient, patient_id: object, payer_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"payer_id": payer_id, "member_number": "MBR-778899", **fields}
    made = await desk.post(f"/api/v1/patients/{patient_id}/insurance-policies", json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def issued_invoice(desk: httpx.AsyncClient, patient_id: object) -> dict[str, Any]:
    """50.00 consultation (billing code 99213) with 20% VAT, and a 10.00 dressing:
    total 70.00."""
    known = (await desk.get("/api/v1/fee-schedule", params={"code": "CONS"})).json()["items"]
    item = (
        known[0]
        if known
        else await fee(
            desk,
            code="CONS",
            billing_code="99213",
            name="Consultation",
            unit_price=5000,
            tax_rates=[{"name": "VAT", "rate": "20"}],
            active_from="2020-01-01",
        )
    )
    invoice = await draft(
        desk, patient_id, {"fee_item_id": item["id"]}, {"name": "Dressing", "unit_price": 1000}
    )
    return await issue(desk, invoice)


async def claim(desk: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    made = await desk.post("/api/v1/claims", json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def step(
    desk: httpx.AsyncClient, found: dict[str, Any], action: str, **body: Any
) -> httpx.Response:
    return await desk.post(
        f"/api/v1/claims/{found['id']}/{action}", json=body, headers=if_match(found)
    )


async def walk_claim(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, policy_id: uuid.UUID
) -> uuid.UUID:
    """A claim of organization B for the route walks (an issued invoice claimed under
    the policy), made through the services."""
    invoice = await invoices.create_draft(
        session,
        actor=actor,
        data=InvoiceCreate(patient_id=patient_id, lines=[LineAdd(name="B claim", unit_price=100)]),
    )
    await issuing.issue(session, actor=actor, invoice_id=invoice.invoice.id, expected_version=None)
    made = await claims.create_claim(
        session, actor=actor, data=ClaimCreate(invoice_id=invoice.invoice.id, policy_id=policy_id)
    )
    return made.claim.id
