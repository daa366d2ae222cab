"""Prescribing, on SQLite and PostgreSQL: the drug search, the safety checks with their
evidence (allergy by class, cross-reactivity, duplicate therapy, an interacting pair),
the override audited, the medication list kept in step, renew / change / discontinue."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Prescription
from clinicdesk.patients.models import Medication
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


async def _consultation(people: People, qc: QueueClinic, patient: int = 0) -> str:
    doctor = await people.api("doctor")
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(qc.patient_ids[patient]), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def _drug_id(client: httpx.AsyncClient, name: str) -> int:
    found = await client.get("/api/v1/drugs", params={"q": name})
    assert found.status_code == 200, found.text
    exact = [d for d in found.json() if d["name"].lower() == name.lower()]
    assert exact, found.json()
    return int(exact[0]["id"])


def _rx(drug_id: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drug_id": drug_id,
        "strength": "500 mg",
        "form": "tablet",
        "dose": "1",
        "route": "oral",
        "frequency": "bid",
        "duration_days": 7,
    }
    return body | extra


async def _allergy(client: httpx.AsyncClient, qc: QueueClinic, substance: str) -> None:
    added = await client.post(
        f"/api/v1/patients/{qc.patient_ids[0]}/allergies",
        json={"substance": substance, "reaction": "hives", "severity": "severe"},
    )
    assert added.status_code == 201, added.text


async def test_search_finds_names_and_brands_by_prefix(people: People) -> None:
    doctor = await people.api("doctor")
    found = (await doctor.get("/api/v1/drugs", params={"q": "amoxi"})).json()
    assert found[0]["name"] == "Amoxicillin"
    assert found[0]["drugbank_id"] == "DB01060"
    synonym = (await doctor.get("/api/v1/drugs", params={"q": "Advi"})).json()
    assert any(d["name"] == "Ibuprofen" and d["matched"] == "advil" for d in synonym)
    brand = (await doctor.get("/api/v1/drugs", params={"q": "lipit"})).json()
    assert any(d["name"] == "Atorvastatin" and d["is_brand"] for d in brand)
    assert (await doctor.get("/api/v1/drugs", params={"q": "a"})).status_code == 422
    assert (await doctor.get("/api/v1/drugs", params={"q": "zzqx%"})).json() == []


async def test_prescribing_writes_the_sig_and_the_medication_list(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    amoxicillin = await _drug_id(doctor, "amoxicillin")
    body = _rx(amoxicillin, instructions="after food")
    first = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/prescriptions",
        json=body,
        headers={"Idempotency-Key": "rx-1"},
    )
    assert first.status_code == 201, first.text
    rx = first.json()
    assert rx["sig"] == "Take 1 tablet by mouth twice daily for 7 days. After food."
    assert Decimal(rx["quantity"]) == 14 and rx["coded"] is True and rx["findings"] == []
    again = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/prescriptions",
        json=body,
        headers={"Idempotency-Key": "rx-1"},
    )
    assert again.headers["Idempotency-Replayed"] == "true"
    entry = await session.get_one(Medication, uuid.UUID(rx["medication_entry_id"]))
    assert (entry.name, entry.status, entry.frequency) == (
        "Amoxicillin 500 mg",
        "active",
        "twice daily",
    )

    stopped = await doctor.post(
        f"/api/v1/prescriptions/{rx['id']}/discontinue",
        json={"reason": "Rash on day 2"},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["status"], stopped.json()["status_reason"]) == (
        "discontinued",
        "Rash on day 2",
    )
    await session.refresh(entry)
    assert entry.status == "stopped" and entry.stop_date is not None
    listed = await doctor.get(f"/api/v1/encounters/{encounter_id}/prescriptions")
    assert [p["id"] for p in listed.json()["items"]] == [rx["id"]]


async def test_free_text_drug_is_uncoded(people: People, qc: QueueClinic) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    made = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/prescriptions",
        json=_rx(None, drug_name="Grandma's cough mixture", form="ml", dose="5", frequency="tid"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["coded"] is False
    assert made.json()["sig"] == "Take 5 mL by mouth three times daily for 7 days."
    nothing = await doctor.post(f"/api/v1/encounters/{encounter_id}/prescriptions", json=_rx(None))
    assert nothing.status_code == 422


async def test_penicillin_allergy_warns_for_amoxicillin_and_the_override_is_audited(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    await _allergy(doctor, qc, "Penicillin")
    amoxicillin = await _drug_id(doctor, "amoxicillin")
    url = f"/api/v1/encounters/{encounter_id}/prescriptions"
    refused = await doctor.post(url, json=_rx(amoxicillin))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:clinicdesk:problem:safety-check"
    [finding] = problem["findings"]
    assert finding["kind"] == "allergy" and finding["severity"] == "contraindicated"
    assert finding["evidence"] == "Recorded allergy: Penicillin (hives, severe)"
    assert "penicillins" in finding["detail"]
    assert await session.scalar(select(Prescription.id)) is None

    checked = await doctor.post(
        "/api/v1/prescriptions/check",
        json={"encounter_id": encounter_id, "drug_id": amoxicillin},
    )
    assert checked.json()["findings"] == problem["findings"]

    made = await doctor.post(url, json=_rx(amoxicillin, override_reason="Tolerated it in 2024"))
    assert made.status_code == 201, made.text
    assert made.json()["override_reason"] == "Tolerated it in 2024"
    overridden = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "prescription.safety_overridden",
            AuditEvent.resource_id == made.json()["id"],
        )
    )
    assert overridden is not None and overridden.changes is not None
    assert overridden.changes["override_reason"] == {"after": "Tolerated it in 2024"}
    assert overridden.changes["findings"]["after"][0]["evidence"] == finding["evidence"]


async def test_cross_reactivity_penicillin_allergy_and_a_cephalosporin(
    people: People, qc: QueueClinic
) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    await _allergy(doctor, qc, "amoxicillin")
    cephalexin = await _drug_id(doctor, "cephalexin")
    checked = await doctor.post(
        "/api/v1/prescriptions/check", json={"encounter_id": encounter_id, "drug_id": cephalexin}
    )
    [finding] = checked.json()["findings"]
    assert finding["kind"] == "allergy" and finding["severity"] == "moderate"
    assert "cross-reactivity" in finding["detail"] and "Khan" in finding["source"]


async def test_duplicate_therapy_and_an_interacting_pair(people: People, qc: QueueClinic) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    listed = await doctor.post(
        f"/api/v1/patients/{qc.patient_ids[0]}/medications",
        json={"name": "Coumadin", "dose": "5 mg", "frequency": "daily"},
    )
    assert listed.status_code == 201, listed.text
    url = f"/api/v1/encounters/{encounter_id}/prescriptions"
    naproxen = await _drug_id(doctor, "naproxen")
    made = await doctor.post(url, json=_rx(naproxen, override_reason="Short course, INR checked"))
    assert made.status_code == 201
    [interaction] = made.json()["findings"]
    assert interaction["kind"] == "interaction" and interaction["severity"] == "major"
    assert interaction["evidence"] == "Coumadin on the medication list"
    assert "Phansalkar" in interaction["source"] and interaction["management"]

    ibuprofen = await _drug_id(doctor, "ibuprofen")
    checked = await doctor.post(
        "/api/v1/prescriptions/check", json={"encounter_id": encounter_id, "drug_id": ibuprofen}
    )
    kinds = {(f["kind"], f["evidence"]) for f in checked.json()["findings"]}
    assert ("interaction", "Coumadin on the medication list") in kinds
    duplicate = [f for f in checked.json()["findings"] if f["kind"] == "duplicate-therapy"]
    assert duplicate and "NSAIDs" in duplicate[0]["title"]
    assert duplicate[0]["evidence"].startswith("Naproxen")


async def test_renew_and_change(people: People, qc: QueueClinic, session: AsyncSession) -> None:
    encounter_id = await _consultation(people, qc)
    doctor = await people.api("doctor")
    url = f"/api/v1/encounters/{encounter_id}/prescriptions"
    made = await doctor.post(url, json=_rx(await _drug_id(doctor, "amlodipine"), strength="5 mg"))
    assert made.status_code == 201, made.text
    old = made.json()
    renewed = await doctor.post(
        f"/api/v1/prescriptions/{old['id']}/renew",
        json={"encounter_id": encounter_id},
        headers={"If-Match": made.headers["ETag"]},
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["replaces_id"] == old["id"] and renewed.json()["findings"] == []
    session.expire_all()
    assert (await session.get_one(Prescription, uuid.UUID(old["id"]))).status == "discontinued"
    # The patient stays on amlodipine: one line on the medication list, still active.
    assert renewed.json()["medication_entry_id"] == old["medication_entry_id"]
    meds = (await doctor.get(f"/api/v1/patients/{qc.patient_ids[0]}/medications")).json()
    assert [(m["id"], m["status"]) for m in meds] == [(old["medication_entry_id"], "active")]

    changed = await doctor.post(
        f"/api/v1/prescriptions/{renewed.json()['id']}/change",
        json={
            "encounter_id": encounter_id,
            "reason": "Ankle swelling",
            "new": _rx(await _drug_id(doctor, "lisinopril"), strength="10 mg", frequency="daily"),
        },
        headers={"If-Match": renewed.headers["ETag"]},
    )
    assert changed.status_code == 201, changed.text
    assert changed.json()["drug_name"] == "Lisinopril"
    stale = await doctor.post(
        f"/api/v1/prescriptions/{renewed.json()['id']}/discontinue",
        json={"reason": "again"},
        headers={"If-Match": renewed.headers["ETag"]},
    )
    assert stale.status_code == 412
    error = await doctor.post(
        f"/api/v1/prescriptions/{changed.json()['id']}/entered-in-error",
        json={"reason": "Wrong patient"},
        headers={"If-Match": "*"},
    )
    assert error.json()["status"] == "entered-in-error"
    meds = (await doctor.get(f"/api/v1/patients/{qc.patient_ids[0]}/medications")).json()
    assert {m["status"] for m in meds} == {"stopped"}
