"""Cancelling a consultation ends what it started, on SQLite and PostgreSQL: a cancelled
one discontinues its active prescriptions (and their medication list entries) and
cancels its orders without results; one entered in error marks every prescription
entered in error, so its printed sheet no longer verifies at a pharmacy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.models import Medication
from tests.clinical.conftest import People
from tests.support.identity import client_for
from tests.support.queue import QueueClinic

RX = {"drug_name": "Paracetamol", "strength": "500 mg", "dose": "2", "frequency": "qid"}


async def _open(doctor: httpx.AsyncClient, qc: QueueClinic) -> str:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(qc.patient_ids[0]), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    made = await client.post(url, json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def _cancel(doctor: httpx.AsyncClient, encounter_id: str, **body: Any) -> None:
    cancelled = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/cancel", json=body, headers={"If-Match": "*"}
    )
    assert cancelled.status_code == 200, cancelled.text


async def test_a_cancelled_consultation_hands_nothing_over(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _open(doctor, qc)
    rx = await _post(doctor, f"/api/v1/encounters/{encounter_id}/prescriptions", RX)
    order = await _post(
        doctor,
        f"/api/v1/encounters/{encounter_id}/orders",
        {"name": "Chest X-ray", "kind": "imaging"},
    )

    await _cancel(doctor, encounter_id, reason="Patient left before the end")

    stopped = (await doctor.get(f"/api/v1/prescriptions/{rx['id']}")).json()
    assert stopped["status"] == "discontinued"
    assert stopped["status_reason"] == (
        "The consultation was cancelled: Patient left before the end"
    )
    entry = await session.get_one(Medication, uuid.UUID(rx["medication_entry_id"]))
    await session.refresh(entry)
    assert entry.status == "stopped"
    orders = (await doctor.get(f"/api/v1/encounters/{encounter_id}/orders")).json()
    assert [(o["id"], o["status"]) for o in orders["items"]] == [(order["id"], "cancelled")]


async def test_a_consultation_entered_in_error_voids_its_printed_prescription(
    app: FastAPI, people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _open(doctor, qc)
    rx = await _post(doctor, f"/api/v1/encounters/{encounter_id}/prescriptions", RX)
    sheet = await _post(doctor, f"/api/v1/encounters/{encounter_id}/prescription-sheets", {})
    pharmacy = client_for(app)
    try:
        assert "Valid" in (await pharmacy.get(f"/rx/{sheet['code']}")).text

        await _cancel(doctor, encounter_id, reason="Wrong patient", entered_in_error=True)

        voided = (await doctor.get(f"/api/v1/prescriptions/{rx['id']}")).json()
        assert voided["status"] == "entered-in-error"
        page = await pharmacy.get(f"/rx/{sheet['code']}")
        assert page.status_code == 200 and "Cancelled" in page.text
    finally:
        await pharmacy.aclose()
