"""Consultation test helpers: a queue clinic (``tests.support.queue``) readied over the
HTTP API for a whole consultation: the doctor's licence number on file, a penicillin
allergy on the patient's chart, the patient checked in as a walk-in for the doctor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.support.http import ANY_VERSION
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic

LICENCE = "GMC-7654321"


@dataclass(frozen=True)
class CheckedIn:
    patient_id: uuid.UUID
    token: str  # the queue token, such as M-001


async def bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def ready_for_consultation(base_url: str, qc: QueueClinic) -> CheckedIn:
    """The admin records the doctor's licence number; the doctor records the patient's
    penicillin allergy on the chart; the front desk checks the patient in for the doctor."""
    patient_id = qc.patient_ids[0]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        admin = await bearer(client, qc.admin_email)
        providers = await client.get("/api/v1/providers", headers=admin)
        assert providers.status_code == 200, providers.text
        ada = next(p for p in providers.json() if p["id"] == str(qc.provider_id))
        body = {
            k: ada[k]
            for k in (
                "user_id",
                "display_name",
                "default_duration_minutes",
                "color",
                "location_ids",
            )
        }
        licensed = await client.put(
            f"/api/v1/providers/{qc.provider_id}",
            json={**body, "license_number": LICENCE},
            headers={**admin, **ANY_VERSION},
        )
        assert licensed.status_code == 200, licensed.text

        doctor = await bearer(client, qc.doctor_email)
        allergy = await client.post(
            f"/api/v1/patients/{patient_id}/allergies",
            json={
                "substance": "Penicillin",
                "category": "medication",
                "reaction": "hives",
                "severity": "moderate",
            },
            headers=doctor,
        )
        assert allergy.status_code == 201, allergy.text

        desk = await bearer(client, qc.desk_email)
        visit = await client.post(
            "/api/v1/queue/walk-ins",
            json={
                "patient_id": str(patient_id),
                "location_id": str(qc.location_id),
                "provider_id": str(qc.provider_id),
            },
            headers=desk,
        )
        assert visit.status_code == 201, visit.text
        return CheckedIn(patient_id=patient_id, token=visit.json()["token"])
