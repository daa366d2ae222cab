"""Vital signs over the API and in the service, on SQLite and PostgreSQL: a set recorded
in a consultation and outside one, refused and flagged values, entered-in-error, the
organization's unit system, the note's text, the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Observation
from clinicdesk.clinical.service import vitals
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient
from tests.support.queue import QueueClinic


async def open_phone_consultation(doctor: httpx.AsyncClient, patient_id: uuid.UUID) -> str:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient_id), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


async def nurse_api(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> httpx.AsyncClient:
    nurse = await create_user(session, clinic, Role.NURSE)
    await session.commit()
    return await sign_in_api(nurse)


def by_kind(body: dict[str, object]) -> dict[str, dict[str, object]]:
    observations = body["observations"]
    assert isinstance(observations, list)
    return {o["kind"]: o for o in observations}


async def _a_set_in_a_consultation_is_stored_metric_flagged_and_audited(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await open_phone_consultation(doctor, qc.patient_ids[0])
    body = {
        "height": "180",
        "weight": "81",
        "temperature": "38.6",
        "heart_rate": 112,
        "respiratory_rate": 16,
        "systolic": 128,
        "diastolic": 82,
        "spo2": 97,
        "pain": 2,
    }
    key = {"Idempotency-Key": "set-1"}
    saved = await doctor.post(f"/api/v1/encounters/{encounter_id}/vitals", json=body, headers=key)
    assert saved.status_code == 201, saved.text
    rows = by_kind(saved.json())
    assert rows["bmi"]["value"] == "25.0" and rows["bmi"]["code"] == "39156-5"
    assert rows["bmi"]["interpretation"] == "H"  # WHO: 25 and above
    assert rows["temperature"]["unit"] == "Cel" and rows["temperature"]["interpretation"] == "H"
    assert rows["heart_rate"]["interpretation"] == "H" and rows["heart_rate"]["code"] == "8867-4"
    assert rows["systolic"]["interpretation"] == "N" and rows["diastolic"]["code"] == "8462-4"
    assert rows["height"]["interpretation"] is None
    assert rows["weight"]["shown"] == "81 kg"
    assert {o["encounter_id"] for o in rows.values()} == {encounter_id}
    assert len({o["set_id"] for o in rows.values()}) == 1

    again = await doctor.post(f"/api/v1/encounters/{encounter_id}/vitals", json=body, headers=key)
    assert again.status_code == 201 and again.headers["Idempotency-Replayed"] == "true"
    session.expire_all()
    stored = list(
        await session.scalars(
            select(Observation).where(Observation.patient_id == qc.patient_ids[0])
        )
    )
    assert len(stored) == 10
    weight = next(o for o in stored if o.code == "29463-7")
    assert isinstance(weight.value, Decimal) and weight.value == Decimal("81.000")
    audit = list(
        await session.scalars(
            select(AuditEvent).where(AuditEvent.resource_id == rows["bmi"]["set_id"])
        )
    )
    assert [a.action for a in audit] == ["vitals.recorded"]

    series = await doctor.get(
        f"/api/v1/patients/{qc.patient_ids[0]}/observations", params={"code": "8867-4"}
    )
    assert series.status_code == 200
    assert [o["value"] for o in series.json()["items"]] == ["112"]
    unknown = await doctor.get(
        f"/api/v1/patients/{qc.patient_ids[0]}/observations", params={"code": "1234-5"}
    )
    assert unknown.status_code == 404 and "8867-4" in unknown.json()["detail"]
    reads = await session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.patient_id == qc.patient_ids[0], AuditEvent.action == "patient.viewed"
        )
    )
    assert reads is not None


async def _an_impossible_value_refuses_the_set_with_the_range(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await open_phone_consultation(doctor, qc.patient_ids[1])
    refused = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/vitals",
        json={"temperature": 50, "heart_rate": 72, "systolic": 120},
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert fields == {
        "temperature": "Temperature must be between 25 and 45 °C.",
        "diastolic": "A blood pressure needs both numbers: type the diastolic.",
    }
    not_a_number = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/vitals", json={"heart_rate": "fast"}
    )
    assert not_a_number.status_code == 422
    nothing = await doctor.post(f"/api/v1/encounters/{encounter_id}/vitals", json={})
    assert nothing.status_code == 422 and "at least one" in nothing.text
    in_future = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/vitals",
        json={"heart_rate": 72, "effective_at": "2099-01-01T00:00:00Z"},
    )
    assert in_future.status_code == 422 and "future" in in_future.text
    session.expire_all()
    assert (
        await session.scalar(
            select(Observation.id).where(Observation.patient_id == qc.patient_ids[1])
        )
        is None
    )


async def _a_nurse_records_outside_a_consultation_in_imperial_and_a_closed_one_refuses(
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
) -> None:
    nurse = await nurse_api(session, clinic, sign_in_api)
    saved = await nurse.post(
        f"/api/v1/patients/{qc.patient_ids[2]}/vitals",
        json={"units": "imperial", "weight": "154.3", "height": "70.0", "temperature": "98.6"},
    )
    assert saved.status_code == 201, saved.text
    rows = by_kind(saved.json())
    assert rows["weight"]["value"] == "69.989" and rows["weight"]["unit"] == "kg"
    assert rows["height"]["value"] == "177.8"
    assert rows["temperature"]["value"] == "37.00"
    assert rows["weight"]["encounter_id"] is None

    refused = await nurse.post(
        f"/api/v1/patients/{qc.patient_ids[2]}/vitals",
        json={"units": "imperial", "temperature": 120},
    )
    assert refused.json()["errors"][0]["message"] == "Temperature must be between 77 and 113 °F."

    doctor = await people.api("doctor")
    encounter_id = await open_phone_consultation(doctor, qc.patient_ids[2])
    cancelled = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/cancel",
        json={"reason": "wrong"},
        headers={"If-Match": "*"},
    )
    assert cancelled.status_code == 200
    closed = await nurse.post(f"/api/v1/encounters/{encounter_id}/vitals", json={"heart_rate": 70})
    assert closed.status_code == 409
    desk = await people.api("desk")
    assert (
        await desk.post(f"/api/v1/patients/{qc.patient_ids[2]}/vitals", json={"heart_rate": 70})
    ).status_code == 403
    assert (await desk.get(f"/api/v1/patients/{qc.patient_ids[2]}/observations")).status_code == 403


async def _entered_in_error_marks_the_pair_and_the_bmi_and_keeps_them(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    patient = qc.patient_ids[3]
    first = await doctor.post(
        f"/api/v1/patients/{patient}/vitals",
        json={"systolic": 150, "diastolic": 95, "weight": 90, "height": 170},
    )
    rows = by_kind(first.json())
    assert rows["systolic"]["interpretation"] == "H" and rows["diastolic"]["interpretation"] == "H"
    url = f"/api/v1/observations/{rows['diastolic']['id']}/entered-in-error"
    stale = await doctor.post(url, json={"reason": "cuff too small"}, headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    marked = await doctor.post(
        url,
        json={"reason": "cuff too small"},
        headers={"If-Match": f'W/"{rows["diastolic"]["version"]}"'},
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "entered-in-error"
    assert marked.json()["error_reason"] == "cuff too small"
    again = await doctor.post(url, json={"reason": "twice"}, headers={"If-Match": "*"})
    assert again.status_code == 409

    weight_url = f"/api/v1/observations/{rows['weight']['id']}/entered-in-error"
    assert (
        await doctor.post(weight_url, json={"reason": "wrong scale"}, headers={"If-Match": "*"})
    ).status_code == 200
    listed = await doctor.get(f"/api/v1/patients/{patient}/observations")
    statuses = {o["kind"]: o["status"] for o in listed.json()["items"]}
    assert statuses == {
        "systolic": "entered-in-error",
        "diastolic": "entered-in-error",
        "weight": "entered-in-error",
        "bmi": "entered-in-error",
        "height": "final",
    }
    # Only the height is left as the latest set; the note's phrase finds no pressure.
    latest = await vitals._latest_set_of(session, uuid.UUID(str(patient)))
    assert latest is not None and [o.code for o in latest.observations] == ["8302-2"]
    assert await vitals.latest_blood_pressure_text(session, patient_id=patient) is None


async def _an_adults_weight_alone_uses_their_last_height_and_notes_get_the_text(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor = await people.api("doctor")
    patient = qc.patient_ids[4]
    assert await vitals.latest_vitals_text(session, patient_id=patient) is None
    await doctor.post(f"/api/v1/patients/{patient}/vitals", json={"height": 160})
    saved = await doctor.post(
        f"/api/v1/patients/{patient}/vitals",
        json={"weight": "64", "systolic": 128, "diastolic": 82},
    )
    rows = by_kind(saved.json())
    assert rows["bmi"]["value"] == "25.0"
    await scope_to_tenant(session, qc.organization_id)
    bp = await vitals.latest_blood_pressure_text(session, patient_id=patient)
    assert bp is not None and bp.startswith("BP 128/82 mmHg (") and bp.endswith(")")
    text = await vitals.latest_vitals_text(session, patient_id=patient)
    assert text is not None and text.startswith("BP 128/82 mmHg, Weight 64 kg, BMI 25 kg/m² (")


async def _a_childs_values_are_flagged_by_the_paediatric_bands(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    await scope_to_tenant(session, qc.organization_id)
    today = datetime.now(UTC).date()
    child = await register_patient(
        session,
        given_name="Tiny",
        family_name="Tot",
        birth_date=date(today.year - 1, 1, 1) if today.month > 6 else date(today.year - 2, 1, 1),
    )
    await session.commit()
    doctor = await people.api("doctor")
    saved = await doctor.post(
        f"/api/v1/patients/{child.id}/vitals",
        json={
            "heart_rate": 130,
            "respiratory_rate": 30,
            "temperature": "38.0",
            "weight": "11.2",
            "height": 80,
        },
    )
    assert saved.status_code == 201, saved.text
    rows = by_kind(saved.json())
    assert rows["heart_rate"]["interpretation"] == "N"  # adult: high
    assert rows["respiratory_rate"]["interpretation"] == "N"  # adult: high
    assert rows["temperature"]["interpretation"] == "H"  # a child's fever starts at 38.0
    assert rows["bmi"]["interpretation"] is None  # a child's BMI needs a centile


async def _the_unit_setting_changes_what_is_typed_and_shown(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    admin = await people.web("admin")
    page = await admin.get("/admin/settings/vitals")
    assert page.status_code == 200 and "Imperial (in, lb, °F)" in page.text
    index = await admin.get("/admin/settings")
    assert "/admin/settings/vitals" in index.text
    saved = await admin.post(
        "/admin/settings/vitals", data={"unit_system": "imperial", "version": "0"}
    )
    assert saved.status_code == 303, saved.text
    stale = await admin.post(
        "/admin/settings/vitals", data={"unit_system": "metric", "version": "0"}
    )
    assert stale.status_code == 412
    bad = await admin.post("/admin/settings/vitals", data={"unit_system": "cubits", "version": "1"})
    assert bad.status_code == 422

    doctor = await people.api("doctor")
    recorded = await doctor.post(
        f"/api/v1/patients/{qc.patient_ids[5]}/vitals", json={"weight": "154.3"}
    )
    rows = by_kind(recorded.json())
    assert rows["weight"]["value"] == "69.989" and rows["weight"]["shown"] == "154.3 lb"
    audit = await session.scalar(
        select(AuditEvent.action).where(AuditEvent.action == "clinical_settings.updated")
    )
    assert audit == "clinical_settings.updated"
    desk = await people.web("desk")
    assert (await desk.get("/admin/settings/vitals")).status_code == 403


# Each test runs a few stories on one clinic: the clinic's set-up is the slow part.


async def test_recording_in_a_consultation_flags_and_refuses(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    await _a_set_in_a_consultation_is_stored_metric_flagged_and_audited(people, qc, session)
    await _an_impossible_value_refuses_the_set_with_the_range(people, qc, session)


async def test_recording_outside_a_consultation_and_the_unit_setting(
    people: People,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
) -> None:
    await _a_nurse_records_outside_a_consultation_in_imperial_and_a_closed_one_refuses(
        people, qc, session, clinic, sign_in_api
    )
    await _the_unit_setting_changes_what_is_typed_and_shown(people, qc, session)


async def test_corrections_bmi_note_text_and_childrens_bands(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    await _entered_in_error_marks_the_pair_and_the_bmi_and_keeps_them(people, qc, session)
    await _an_adults_weight_alone_uses_their_last_height_and_notes_get_the_text(people, qc, session)
    await _a_childs_values_are_flagged_by_the_paediatric_bands(people, qc, session)
