"""The printed prescription, on SQLite and PostgreSQL: the PDF carries the clinic, the
prescriber and licence, the patient, the items and the code (read back with pypdf); the
public page answers valid / partly cancelled / replaced with initials only."""

from __future__ import annotations

import io

from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.patients.models import Patient
from clinicdesk.scheduling.models import Provider
from tests.clinical.conftest import People
from tests.support.identity import client_for
from tests.support.queue import QueueClinic

ITEMS = (
    {
        "drug_name": "Amoxicillin",
        "strength": "500 mg",
        "dose": "1",
        "frequency": "tid",
        "duration_days": 7,
    },
    {
        "drug_name": "Paracetamol",
        "strength": "500 mg",
        "dose": "2",
        "frequency": "qid",
        "duration_days": 3,
    },
)


async def test_print_and_verify_a_prescription(
    app: FastAPI, people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    provider = await session.get_one(Provider, qc.provider_id)
    provider.license_number = "MD-445566"
    await session.commit()
    patient = await session.get_one(Patient, qc.patient_ids[0])
    full_name, family = patient.full_name, patient.family_name

    doctor = await people.api("doctor")
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient.id), "kind": "phone"}
    )
    encounter_id = opened.json()["id"]
    nothing = await doctor.post(f"/api/v1/encounters/{encounter_id}/prescription-sheets")
    assert nothing.status_code == 409
    rx_ids = []
    for item in ITEMS:
        made = await doctor.post(
            f"/api/v1/encounters/{encounter_id}/prescriptions",
            json={**item, "override_reason": "Reviewed"},
        )
        assert made.status_code == 201, made.text
        rx_ids.append(made.json()["id"])

    printed = await doctor.post(f"/api/v1/encounters/{encounter_id}/prescription-sheets")
    assert printed.status_code == 201, printed.text
    sheet = printed.json()
    code = sheet["code"]
    assert len(code) == 14 and code.count("-") == 2

    web = await people.web("doctor")
    pdf = await web.get(sheet["pdf_url"].split("testserver", 1)[-1])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["Cache-Control"].startswith("no-store")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (full_name, "Dr. Ada", "MD-445566", "Amoxicillin 500 mg", "Paracetamol", code):
        assert expected in text, expected
    assert "three times daily" in text  # the sig, as generated from the structure

    # The pharmacy, without signing in: valid, with initials only.
    pharmacy = client_for(app)
    try:
        page = await pharmacy.get(f"/rx/{code}")
        assert page.status_code == 200
        assert "Valid" in page.text and "Dr. Ada" in page.text and "MD-445566" in page.text
        assert f"{patient.given_name[0]}.{family[0]}." in page.text
        assert family not in page.text and "Amoxicillin" not in page.text
        typed = await pharmacy.get("/rx", params={"code": code.lower().replace("-", " ")})
        assert typed.status_code == 303 and typed.headers["location"] == f"/rx/{code}"
        unknown = await pharmacy.get("/rx/ABCD-EFGH-JKMN")
        assert unknown.status_code == 404 and "No prescription has this code" in unknown.text
        assert (await pharmacy.get("/rx/not-a-code")).status_code == 404

        # One item discontinued: partly cancelled.
        read = await doctor.get(f"/api/v1/prescriptions/{rx_ids[1]}")
        stopped = await doctor.post(
            f"/api/v1/prescriptions/{rx_ids[1]}/discontinue",
            json={"reason": "Not needed"},
            headers={"If-Match": read.headers["ETag"]},
        )
        assert stopped.status_code == 200, stopped.text
        assert "Partly cancelled" in (await pharmacy.get(f"/rx/{code}")).text

        # Printed again from the page: a new code; the first paper is replaced.
        again = await web.post(f"/encounters/{encounter_id}/prescription-sheets")
        assert again.status_code == 303 and again.headers["location"].endswith(".pdf")
        assert "Replaced" in (await pharmacy.get(f"/rx/{code}")).text
    finally:
        await pharmacy.aclose()

    checks = await session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.action == "prescription_sheet.verified", AuditEvent.patient_id == patient.id
        )
        .limit(1)
    )
    assert checks is not None
    desk = await people.web("desk")
    assert (await desk.get(sheet["pdf_url"].split("testserver", 1)[-1])).status_code == 403
