"""The consultation's Prescriptions section, on SQLite and PostgreSQL: the picker, the
preview with the sig and the findings, prescribing with an override, discontinue and
renew from the lists."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.models import Prescription
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

HTMX = {"HX-Request": "true"}


async def test_prescribing_from_the_consultation_page(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    api = await people.api("doctor")
    opened = await api.post(
        "/api/v1/encounters", json={"patient_id": str(qc.patient_ids[0]), "kind": "phone"}
    )
    encounter_id = opened.json()["id"]
    await api.post(
        f"/api/v1/patients/{qc.patient_ids[0]}/allergies", json={"substance": "Penicillin"}
    )
    web = await people.web("doctor")
    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200 and 'id="section-prescriptions"' in page.text
    assert "Nothing prescribed in this consultation yet." in page.text

    options = await web.get(
        f"/encounters/{encounter_id}/drug-options", params={"drug_query": "amoxic"}, headers=HTMX
    )
    found = re.search(r'data-drug-id="(\d+)" data-drug-name="Amoxicillin"', options.text)
    assert found, options.text
    form = {
        "drug_query": "Amoxicillin",
        "drug_id": found.group(1),
        "strength": "500 mg",
        "dose": "1",
        "form": "capsule",
        "route": "oral",
        "frequency": "tid",
        "duration_days": "5",
        "refills": "0",
    }
    preview = await web.post(
        f"/encounters/{encounter_id}/prescriptions/preview", data=form, headers=HTMX
    )
    assert "Take 1 capsule by mouth three times daily for 5 days." in preview.text
    assert "Evidence:</span> Recorded allergy: Penicillin" in preview.text

    refused = await web.post(f"/encounters/{encounter_id}/prescriptions", data=form, headers=HTMX)
    assert "give a reason to override" in refused.text and 'name="override_reason"' in refused.text
    assert await session.scalar(select(Prescription.id)) is None

    made = await web.post(
        f"/encounters/{encounter_id}/prescriptions",
        data=form | {"override_reason": "Tolerated amoxicillin last year"},
        headers=HTMX,
    )
    assert "Prescribed Amoxicillin." in made.text and "Override" in made.text
    rx = await session.scalar(select(Prescription))
    assert rx is not None and rx.override_reason == "Tolerated amoxicillin last year"

    renewed = await web.post(
        f"/encounters/{encounter_id}/prescriptions/{rx.id}/renew",
        data={"version": str(rx.version)},
        headers=HTMX,
    )
    assert "Renewing needs a reason to override these findings." in renewed.text
    assert "Recorded allergy: Penicillin" in renewed.text
    renewed = await web.post(
        f"/encounters/{encounter_id}/prescriptions/{rx.id}/renew",
        data={"version": str(rx.version), "override_reason": "Still tolerated"},
        headers=HTMX,
    )
    assert "Renewed Amoxicillin." in renewed.text
    await session.refresh(rx)
    rx = await session.scalar(select(Prescription).where(Prescription.replaces_id == rx.id))
    assert rx is not None and rx.override_reason == "Still tolerated"

    stopped = await web.post(
        f"/encounters/{encounter_id}/prescriptions/{rx.id}/discontinue",
        data={"reason": "Course changed", "version": str(rx.version)},
        headers=HTMX,
    )
    assert "Discontinued Amoxicillin." in stopped.text
    free = await web.post(
        f"/encounters/{encounter_id}/prescriptions",
        data=form | {"drug_id": "", "drug_query": "Herbal tea", "form": "ml", "dose": "10"},
        headers=HTMX,
    )
    assert "Prescribed Herbal tea." in free.text and "Uncoded" in free.text

    nurse_free = await people.web("desk")
    assert (await nurse_free.get(f"/encounters/{encounter_id}")).status_code == 403
