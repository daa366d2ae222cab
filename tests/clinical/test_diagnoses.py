"""Encounter diagnoses, on SQLite and PostgreSQL: ICD-10-CM coded or uncoded, one primary
per consultation (a new primary demotes the old), notes, entered in error, the chronic
"add to problem list" offer; the API and the consultation section."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.kernel.chronic import CHRONIC_CATEGORIES, chronic_condition
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic


async def _open(doctor: httpx.AsyncClient, patient_id: uuid.UUID) -> str:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient_id), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def _add(doctor: httpx.AsyncClient, encounter_id: str, **body: object) -> httpx.Response:
    return await doctor.post(f"/api/v1/encounters/{encounter_id}/diagnoses", json=body)


async def test_diagnoses_are_coded_ranked_changed_and_struck_through(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _open(doctor, qc.patient_ids[0])

    first = await _add(doctor, encounter_id, icd10_code="e119", note="HbA1c 8.1%")
    assert first.status_code == 201, first.text
    diabetes = first.json()
    assert (diabetes["icd10_code"], diabetes["rank"], diabetes["coded"]) == (
        "E11.9",
        "primary",  # the first diagnosis of a consultation
        True,
    )
    assert diabetes["description"] == "Type 2 diabetes mellitus without complications"
    assert diabetes["chronic_condition"] == "Diabetes"
    assert diabetes["offer_problem_list"] is True

    cough = await _add(doctor, encounter_id, icd10_code="R05.9")
    assert cough.json()["rank"] == "secondary"
    assert cough.json()["offer_problem_list"] is False  # not chronic

    pressure = await _add(doctor, encounter_id, icd10_code="I10", rank="primary")
    assert pressure.status_code == 201, pressure.text
    listed = (await doctor.get(f"/api/v1/encounters/{encounter_id}/diagnoses")).json()
    assert [(d["icd10_code"], d["rank"]) for d in listed] == [
        ("I10", "primary"),
        ("E11.9", "secondary"),
        ("R05.9", "secondary"),
    ]

    uncoded = await _add(doctor, encounter_id, description="Post-viral fatigue")
    assert uncoded.status_code == 201, uncoded.text
    assert (uncoded.json()["coded"], uncoded.json()["icd10_code"]) == (False, None)

    assert (await _add(doctor, encounter_id, icd10_code="E11.9")).status_code == 409
    unknown = await _add(doctor, encounter_id, icd10_code="Q99.999")
    assert unknown.status_code == 422
    assert "not an ICD-10-CM code" in unknown.text
    assert (await _add(doctor, encounter_id, note="nothing else")).status_code == 422

    actions = list(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_type == "diagnosis")
        )
    )
    assert actions.count("diagnosis.added") == 4
    assert "diagnosis.updated" in actions  # E11.9 demoted

    # Retried with the same Idempotency-Key: one diagnosis.
    encounter_id = await _open(doctor, qc.patient_ids[1])
    url = f"/api/v1/encounters/{encounter_id}/diagnoses"
    first = await doctor.post(
        url, json={"icd10_code": "J45.909"}, headers={"Idempotency-Key": "d1"}
    )
    again = await doctor.post(
        url, json={"icd10_code": "J45.909"}, headers={"Idempotency-Key": "d1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotency-Replayed"] == "true"

    # Rank and note change with If-Match; entered in error is kept, struck through.
    encounter_id = await _open(doctor, qc.patient_ids[2])
    diabetes = (await _add(doctor, encounter_id, icd10_code="E11.9")).json()
    asthma = (await _add(doctor, encounter_id, icd10_code="J45.909")).json()

    url = f"/api/v1/diagnoses/{asthma['id']}"
    assert (await doctor.patch(url, json={"rank": "primary"})).status_code == 428
    ranked = await doctor.patch(
        url, json={"rank": "primary", "note": "Night cough"}, headers={"If-Match": 'W/"1"'}
    )
    assert ranked.status_code == 200, ranked.text
    assert (ranked.json()["rank"], ranked.json()["note"]) == ("primary", "Night cough")
    stale = await doctor.patch(url, json={"note": "x"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    demoted = (await doctor.get(f"/api/v1/diagnoses/{diabetes['id']}")).json()
    assert demoted["rank"] == "secondary"

    wrong = await doctor.post(
        f"/api/v1/diagnoses/{diabetes['id']}/entered-in-error",
        json={"reason": "Wrong patient's result"},
        headers={"If-Match": f'W/"{demoted["version"]}"'},
    )
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["status"] == "entered-in-error"
    assert wrong.json()["offer_problem_list"] is False
    listed = (await doctor.get(f"/api/v1/encounters/{encounter_id}/diagnoses")).json()
    assert [d["status"] for d in listed] == ["active", "entered-in-error"]
    again = await doctor.post(
        f"/api/v1/diagnoses/{diabetes['id']}/entered-in-error",
        json={"reason": "again"},
        headers={"If-Match": "*"},
    )
    assert again.status_code == 409
    # Struck-through diagnoses do not go on the problem list.
    assert (await doctor.post(f"/api/v1/diagnoses/{diabetes['id']}/problem")).status_code == 409


async def test_a_chronic_diagnosis_offers_the_problem_list_once(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    patient_id = qc.patient_ids[3]
    await doctor.post(
        f"/api/v1/patients/{patient_id}/problems",
        json={"description": "Asthma", "icd10_code": "J45.909"},
    )
    encounter_id = await _open(doctor, patient_id)
    asthma = (await _add(doctor, encounter_id, icd10_code="J45.909")).json()
    assert (asthma["on_problem_list"], asthma["offer_problem_list"]) == (True, False)

    ckd = (await _add(doctor, encounter_id, icd10_code="N18.30")).json()
    assert ckd["offer_problem_list"] is True
    added = await doctor.post(f"/api/v1/diagnoses/{ckd['id']}/problem")
    assert added.status_code == 201, added.text
    assert added.json()["icd10_code"] == "N18.30"
    assert (await doctor.post(f"/api/v1/diagnoses/{ckd['id']}/problem")).status_code == 409
    problems = (await doctor.get(f"/api/v1/patients/{patient_id}/problems")).json()
    assert {p["icd10_code"] for p in problems} == {"J45.909", "N18.30"}
    now = (await doctor.get(f"/api/v1/diagnoses/{ckd['id']}")).json()
    assert (now["on_problem_list"], now["offer_problem_list"]) == (True, False)

    # A closed consultation takes no new diagnosis, but takes corrections.
    encounter_id = await _open(doctor, qc.patient_ids[4])
    made = (await _add(doctor, encounter_id, icd10_code="I10")).json()
    finished = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/finish", headers={"If-Match": "*"}
    )
    assert finished.status_code == 200, finished.text
    assert (await _add(doctor, encounter_id, icd10_code="E11.9")).status_code == 409
    ranked = await doctor.patch(
        f"/api/v1/diagnoses/{made['id']}", json={"note": "x"}, headers={"If-Match": "*"}
    )
    assert ranked.status_code == 409
    corrected = await doctor.post(
        f"/api/v1/diagnoses/{made['id']}/entered-in-error",
        json={"reason": "Meant for another visit"},
        headers={"If-Match": "*"},
    )
    assert corrected.status_code == 200, corrected.text


async def test_the_section_picks_ranks_offers_and_removes(people: People, qc: QueueClinic) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _open(doctor, qc.patient_ids[5])
    web = await people.web("doctor")
    hx = {"HX-Request": "true"}

    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200
    assert 'id="section-diagnoses"' in page.text
    assert "No diagnosis yet." in page.text
    options = await web.get(
        "/patients/icd10-codes", params={"icd10_code": "diab typ 2"}, headers=hx
    )
    assert '<option value="E11">' in options.text

    added = await web.post(
        f"/encounters/{encounter_id}/diagnoses",
        data={"icd10_code": "E11.9", "note": "New <b>diagnosis</b>"},
        headers=hx,
    )
    assert added.status_code == 200
    assert "E11.9" in added.text and "Primary" in added.text
    assert "Chronic (Diabetes)" in added.text and "Add to problem list" in added.text
    assert "New &lt;b&gt;diagnosis&lt;/b&gt;" in added.text  # escaped
    refused = await web.post(
        f"/encounters/{encounter_id}/diagnoses", data={"icd10_code": "ZZZ"}, headers=hx
    )
    assert refused.status_code == 200
    assert "Not saved:" in refused.text and "ZZZ is not an ICD-10-CM code" in refused.text

    listed = (await doctor.get(f"/api/v1/encounters/{encounter_id}/diagnoses")).json()
    diagnosis_id = listed[0]["id"]
    offered = await web.post(f"/diagnoses/{diagnosis_id}/problem", headers=hx)
    assert "On problem list" in offered.text and "Add to problem list" not in offered.text

    second = await web.post(
        f"/encounters/{encounter_id}/diagnoses", data={"icd10_code": "R05.9"}, headers=hx
    )
    assert "Make primary" in second.text
    cough = (await doctor.get(f"/api/v1/encounters/{encounter_id}/diagnoses")).json()[1]
    ranked = await web.post(
        f"/diagnoses/{cough['id']}/rank",
        data={"rank": "primary", "version": str(cough["version"])},
        headers=hx,
    )
    assert "Rank changed." in ranked.text
    # Demoted by the new primary, the diabetes row moved on from version 1.
    stale = await web.post(
        f"/diagnoses/{diagnosis_id}/entered-in-error",
        data={"reason": "Duplicate", "version": "1"},
        headers=hx,
    )
    assert "Not saved:" in stale.text
    current = (await doctor.get(f"/api/v1/diagnoses/{diagnosis_id}")).json()
    removed = await web.post(
        f"/diagnoses/{diagnosis_id}/entered-in-error",
        data={"reason": "Duplicate", "version": str(current["version"])},
        headers=hx,
    )
    assert "Entered in error" in removed.text and "Why: Duplicate" in removed.text

    section = await web.get(f"/encounters/{encounter_id}/sections/diagnoses", headers=hx)
    assert section.status_code == 200 and "R05.9" in section.text
    desk = await people.web("desk")
    assert (await desk.get(f"/encounters/{encounter_id}")).status_code == 403


@pytest.mark.parametrize(
    ("code", "condition"),
    [
        ("E11.9", "Diabetes"),
        ("e109", "Diabetes"),
        ("I10", "Hypertension"),
        ("I15.0", "Hypertension"),
        ("J44.1", "Chronic obstructive pulmonary disease"),
        ("N18.30", "Chronic kidney disease"),
        ("F33.1", "Depression"),
        ("R05.9", None),
        ("J06.9", None),
        ("S72.001A", None),
        ("", None),
        (None, None),
        ("E1", None),
    ],
)
def test_chronic_conditions_are_found_by_category(code: str | None, condition: str | None) -> None:
    assert chronic_condition(code) == condition


@given(st.sampled_from(CHRONIC_CATEGORIES), st.text("0123456789ABX", max_size=4))
def test_every_code_under_a_chronic_category_is_chronic(
    category: tuple[str, str, str], rest: str
) -> None:
    first, last, condition = category
    assert chronic_condition(first + rest) == condition
    assert chronic_condition(last + rest) == condition
