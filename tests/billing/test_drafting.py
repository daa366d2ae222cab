"""A finished consultation drafts its invoice through ``encounter_finished``, on both
databases: the visit type's default fee and the orders whose catalogue test has a fee,
at the prices in force; nothing priced drafts nothing; the doctor sees no invoice."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Encounter
from tests.billing.conftest import fee, if_match
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic, book_today

POTASSIUM = {"name": "Potassium", "kind": "lab", "code": "2823-3", "is_active": "true"}


async def _catalogue_test(people: People) -> str:
    """Added on the settings page by the administrator; its id."""
    admin = await people.web("admin")
    added = await admin.post("/admin/settings/tests", data=POTASSIUM)
    assert added.status_code == 303, added.text
    page = await admin.get("/admin/settings/tests")
    marker = "/admin/settings/tests/"
    start = page.text.index(marker) + len(marker)
    return page.text[start : start + 36]


async def _consultation(people: People, qc: QueueClinic, session: AsyncSession) -> Encounter:
    """A booked patient checked in and in consultation with Dr. Ada."""
    appointment_id = await book_today(session, qc, qc.patient_ids[0])
    doctor = await people.api("doctor")
    checked = await doctor.post(
        "/api/v1/queue/check-ins", json={"appointment_id": str(appointment_id)}
    )
    assert checked.status_code == 201, checked.text
    started = await doctor.post(
        f"/api/v1/queue/visits/{checked.json()['id']}/start",
        headers={"If-Match": checked.headers["ETag"]},
    )
    assert started.status_code == 200, started.text
    session.expire_all()
    encounter = await session.scalar(
        select(Encounter).where(Encounter.appointment_id == appointment_id)
    )
    assert encounter is not None
    return encounter


async def _finish(doctor: httpx.AsyncClient, encounter_id: object) -> None:
    read = await doctor.get(f"/api/v1/encounters/{encounter_id}")
    finished = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/finish", headers={"If-Match": read.headers["ETag"]}
    )
    assert finished.status_code == 200, finished.text


async def _invoices_of(desk: httpx.AsyncClient, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    listed = await desk.get("/api/v1/invoices", params={"patient_id": str(patient_id)})
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def test_a_finished_consultation_drafts_its_invoice(
    people: People, qc: QueueClinic, session: AsyncSession, desk: httpx.AsyncClient
) -> None:
    test_id = await _catalogue_test(people)
    visit_fee = await fee(
        desk,
        code="CONS15",
        name="Consultation",
        unit_price=6000,
        active_from="2020-01-01",
        appointment_type_id=str(qc.consultation_id),
    )
    # The price in force today is the one billed, not the older one.
    repriced = await desk.post(
        f"/api/v1/fee-schedule/{visit_fee['id']}/versions",
        json={"unit_price": 6500, "active_from": "2021-01-01"},
        headers=if_match(visit_fee),
    )
    assert repriced.status_code == 201, repriced.text
    await fee(
        desk,
        code="LAB-K",
        name="Potassium test",
        unit_price=1250,
        tax_rates=[{"name": "VAT", "rate": "10"}],
        active_from="2020-01-01",
        catalogue_item_id=test_id,
    )
    encounter = await _consultation(people, qc, session)
    doctor = await people.api("doctor")
    for body in ({"catalogue_item_id": test_id}, {"name": "Chest X-ray", "kind": "imaging"}):
        placed = await doctor.post(f"/api/v1/encounters/{encounter.id}/orders", json=body)
        assert placed.status_code == 201, placed.text
    assert await _invoices_of(desk, qc.patient_ids[0]) == []

    await _finish(doctor, encounter.id)

    (summary,) = await _invoices_of(desk, qc.patient_ids[0])
    invoice = (await desk.get(f"/api/v1/invoices/{summary['id']}")).json()
    assert invoice["status"] == "draft"
    assert invoice["encounter_id"] == str(encounter.id)
    assert invoice["location_id"] == str(qc.location_id)
    assert [(line["source"], line["code"], line["total"]) for line in invoice["lines"]] == [
        ("visit_type", "CONS15", 6500),
        ("order", "LAB-K", 1375),
    ]
    assert invoice["total"] == 7875
    drafted = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == invoice["id"], AuditEvent.action == "invoice.drafted"
        )
    )
    assert drafted is not None and drafted.patient_id == qc.patient_ids[0]
    # The desk adds an item and issues it; the doctor holds no billing permission.
    added = await desk.post(
        f"/api/v1/invoices/{invoice['id']}/lines", json={"name": "Sling", "unit_price": 800}
    )
    assert added.status_code == 201, added.text
    issued = await desk.post(
        f"/api/v1/invoices/{invoice['id']}/issue", headers=if_match(added.json())
    )
    assert issued.status_code == 200 and issued.json()["total"] == 8675
    assert (await doctor.get(f"/api/v1/invoices/{invoice['id']}")).status_code == 403


async def test_a_consultation_with_nothing_priced_drafts_nothing(
    people: People, qc: QueueClinic, desk: httpx.AsyncClient
) -> None:
    doctor = await people.api("doctor")
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(qc.patient_ids[1]), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    await _finish(doctor, opened.json()["id"])
    assert await _invoices_of(desk, qc.patient_ids[1]) == []
