"""The patients API end to end, on SQLite and PostgreSQL: register, read, update with
versions, search, duplicates, merge, chart lists, documents, permissions."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.patients import patient_json, register_over_http

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_register_read_and_update_with_versions(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    created = await register_over_http(desk)
    assert created["mrn"].isdigit() and len(created["mrn"]) == 7
    assert created["phone"] == "+16172013344"
    assert created["national_id_masked"].endswith("6789")
    assert "123456789" not in str(created)

    read = await desk.get(f"/api/v1/patients/{created['id']}")
    assert read.status_code == 200
    tag = read.headers["etag"]

    changed = {**patient_json(), "given_name": "Jonathan", "no_known_allergies": True}
    updated = await desk.put(
        f"/api/v1/patients/{created['id']}", json=changed, headers={"If-Match": tag}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["given_name"] == "Jonathan"

    stale = await desk.put(
        f"/api/v1/patients/{created['id']}", json=patient_json(), headers={"If-Match": tag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == updated.json()["version"]


async def test_mrns_are_sequential_with_a_check_digit(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    first = await register_over_http(desk, phone=None, national_id=None)
    second = await register_over_http(desk, given_name="Mary", phone=None, national_id=None)
    assert int(second["mrn"][:-1]) == int(first["mrn"][:-1]) + 1


async def test_bad_input_gets_clear_errors(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    tomorrow = (date.today() + timedelta(days=1)).isoformat()  # noqa: DTZ011
    cases = {
        "future birth date": patient_json(birth_date=tomorrow),
        "impossible date": patient_json(birth_date="2023-02-30"),
        "invalid phone": patient_json(phone="12"),
        "bidi override": patient_json(family_name="Smith\u202e"),
        "control character": patient_json(given_name="Jo\x07hn"),
    }
    for label, body in cases.items():
        response = await desk.post("/api/v1/patients", json=body)
        assert response.status_code == 422, (label, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"], label
    listed = await desk.get("/api/v1/patients")
    assert listed.json()["items"] == []  # nothing half-written


async def test_names_keep_unicode_nfc(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    created = await register_over_http(
        desk, given_name="Jose\u0301", family_name="Nguyễn", phone=None
    )
    assert created["given_name"] == "Jos\u00e9"
    found = await desk.get("/api/v1/patients", params={"q": "jose nguyen"})
    assert [p["id"] for p in found.json()["items"]] == [created["id"]]


async def test_search_by_name_phone_dob_mrn_and_national_id(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    john = await register_over_http(desk)
    await register_over_http(
        desk,
        given_name="Maria",
        family_name="Garcia",
        birth_date="1975-07-01",
        phone="212 555 0134",
        email=None,
        national_id=None,
    )

    async def ids(q: str) -> list[str]:
        response = await desk.get("/api/v1/patients", params={"q": q})
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids("Jon Smtih") == [john["id"]]
    assert await ids("smith john") == [john["id"]]
    assert await ids("smi") == [john["id"]]
    assert await ids("+1 617-201-3344") == [john["id"]]
    assert await ids("6172013344") == [john["id"]]
    assert await ids("03/14/1980") == [john["id"]]
    assert await ids(john["mrn"]) == [john["id"]]
    assert await ids("123456789") == [john["id"]]
    assert await ids("12345") == []  # identifiers match exactly, never by pattern
    assert await ids("nobody") == []


async def test_duplicates_are_found_and_merged(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    kept = await register_over_http(doctor)
    dup = await register_over_http(
        doctor, given_name="Jon", family_name="Smyth", email=None, national_id=None
    )
    allergy = await doctor.post(
        f"/api/v1/patients/{dup['id']}/allergies",
        json={"substance": "Penicillin", "severity": "severe", "reaction": "Hives"},
    )
    assert allergy.status_code == 201, allergy.text

    check = await doctor.post(
        "/api/v1/patients/duplicate-check", json=patient_json(given_name="Jhon")
    )
    assert check.status_code == 200
    candidates = check.json()
    assert {c["patient"]["id"] for c in candidates} >= {kept["id"], dup["id"]}
    assert all(c["reasons"] for c in candidates)

    merged = await doctor.post(
        f"/api/v1/patients/{kept['id']}/merge",
        json={"duplicate_id": dup["id"], "reason": "Same person, registered twice"},
        headers=ANY_VERSION,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"] == {"patient_allergies": 1}

    # The old id still resolves, to the kept record, which now has the allergy.
    old = await doctor.get(f"/api/v1/patients/{dup['id']}")
    assert old.json()["id"] == kept["id"]
    allergies = await doctor.get(f"/api/v1/patients/{kept['id']}/allergies")
    assert [a["substance"] for a in allergies.json()] == ["Penicillin"]
    # Writes to the merged record are refused with the kept record named.
    refused = await doctor.put(
        f"/api/v1/patients/{dup['id']}", json=patient_json(), headers={"If-Match": "*"}
    )
    assert refused.status_code == 409
    # Search no longer offers the merged record.
    found = await doctor.get("/api/v1/patients", params={"q": "smyth"})
    assert dup["id"] not in [p["id"] for p in found.json()["items"]]
    changes = await doctor.get(f"/api/v1/patients/{kept['id']}/changes")
    actions = [i["action"] for i in changes.json()["items"]]
    assert "patient.merged" in actions and "patient.merged_into" in actions


async def test_receptionist_sees_allergy_banner_but_not_clinical_lists(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    patient = await register_over_http(doctor)
    base = f"/api/v1/patients/{patient['id']}"
    await doctor.post(f"{base}/allergies", json={"substance": "Latex", "status": "active"})
    await doctor.post(f"{base}/allergies", json={"substance": "Pollen", "status": "resolved"})
    await doctor.post(f"{base}/problems", json={"description": "Asthma", "icd10_code": "J459"})

    banner = await desk.get(f"{base}/allergies")
    assert [a["substance"] for a in banner.json()] == ["Latex"]
    assert (await desk.get(f"{base}/problems")).status_code == 403
    assert (await desk.post(f"{base}/allergies", json={"substance": "X"})).status_code == 403
    problems = await doctor.get(f"{base}/problems")
    assert problems.json()[0]["icd10_code"] == "J45.9"
    bad_code = await doctor.post(f"{base}/problems", json={"description": "X", "icd10_code": "Q"})
    assert bad_code.status_code == 422


async def test_chart_reads_are_audited(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    clinic_id = clinic.id
    doctor_user = await create_user(session, clinic, Role.DOCTOR)
    doctor = await sign_in_api(doctor_user)
    patient = await register_over_http(doctor)
    await doctor.get(f"/api/v1/patients/{patient['id']}")
    await doctor.post(f"/api/v1/patients/{patient['id']}/identifiers/national_id/reveal")
    await scope_to_tenant(session, clinic_id)
    actions = (
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == uuid.UUID(patient["id"]))
        )
    ).all()
    assert "patient.viewed" in actions
    assert "patient.identifier_revealed" in actions


async def test_documents_upload_download_and_soft_delete(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    patient = await register_over_http(doctor)
    base = f"/api/v1/patients/{patient['id']}/documents"
    uploaded = await doctor.post(
        base,
        files={"file": ("lab results.pdf", PDF, "application/pdf")},
        data={"category": "lab_result", "title": "Blood count"},
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    assert document["content_type"] == "application/pdf"

    content = await doctor.get(f"{base}/{document['id']}/content")
    assert content.status_code == 200
    assert content.content == PDF
    assert content.headers["content-disposition"].startswith("attachment")
    assert content.headers["x-content-type-options"] == "nosniff"

    html_as_png = await doctor.post(
        base, files={"file": ("photo.png", b"<html><script>alert(1)</script>", "image/png")}
    )
    assert html_as_png.status_code == 415
    svg = await doctor.post(base, files={"file": ("x.svg", b"<svg xmlns='x'/>", "image/svg+xml")})
    assert svg.status_code == 415

    unversioned = await doctor.delete(f"{base}/{document['id']}", params={"reason": "Wrong"})
    assert unversioned.status_code == 428
    deleted = await doctor.delete(
        f"{base}/{document['id']}",
        params={"reason": "Wrong patient"},
        headers={"If-Match": f'W/"{document["version"]}"'},
    )
    assert deleted.status_code == 204
    assert (await doctor.get(base)).json() == []
    assert (await doctor.get(f"{base}/{document['id']}/content")).status_code == 404


async def test_oversize_upload_is_refused(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, app: Any
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    patient = await register_over_http(doctor)
    limit = app.state.patients.upload_max_bytes
    big = PDF + b"0" * limit
    response = await doctor.post(
        f"/api/v1/patients/{patient['id']}/documents",
        files={"file": ("big.pdf", big, "application/pdf")},
    )
    assert response.status_code == 413
    assert (await doctor.get(f"/api/v1/patients/{patient['id']}/documents")).json() == []


async def test_receptionist_handles_cards_not_clinical_documents(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await sign_in_api(await create_user(session, clinic, Role.DOCTOR))
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    patient = await register_over_http(doctor)
    base = f"/api/v1/patients/{patient['id']}/documents"
    await doctor.post(base, files={"file": ("lab.pdf", PDF)}, data={"category": "lab_result"})
    card = await desk.post(base, files={"file": ("card.png", PNG)}, data={"category": "id_card"})
    assert card.status_code == 201, card.text
    lab = await desk.post(base, files={"file": ("x.pdf", PDF)}, data={"category": "lab_result"})
    assert lab.status_code == 404
    assert [d["category"] for d in (await desk.get(base)).json()] == ["id_card"]
    assert len((await doctor.get(base)).json()) == 2
