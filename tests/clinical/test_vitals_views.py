"""Vital signs in the browser, on SQLite and PostgreSQL: the consultation's section
(refused at the field with the range, flagged with a word, the latest set, entered in
error), the banner's weight, and the trends page with its charts' data and scripts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import scope_to_tenant
from tests.clinical.conftest import People
from tests.clinical.test_vitals import open_phone_consultation
from tests.support.patients import register_patient
from tests.support.queue import QueueClinic

HTMX = {"HX-Request": "true"}


async def test_the_vitals_section_refuses_at_the_field_flags_with_a_word_and_corrects(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor_api = await people.api("doctor")
    patient = qc.patient_ids[0]
    encounter_id = await open_phone_consultation(doctor_api, patient)
    web = await people.web("doctor")
    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200
    assert 'id="section-vitals"' in page.text and "No vitals recorded yet." in page.text
    assert 'href="/patients/' + str(patient) + '/vitals"' in page.text
    assert "<span>Weight " not in page.text  # no weight in the banner yet

    refused = await web.post(
        f"/encounters/{encounter_id}/vitals",
        data={"temperature": "50", "heart_rate": "130", "weight": "81", "height": "180"},
        headers=HTMX,
    )
    assert refused.status_code == 200  # htmx swaps it in; the refusal is at the field
    assert 'id="v-temperature-error"' in refused.text
    assert "Temperature must be between 25 and 45 °C." in refused.text
    assert 'value="130"' in refused.text  # what was typed stays

    saved = await web.post(
        f"/encounters/{encounter_id}/vitals",
        data={"temperature": "36,8", "heart_rate": "130", "weight": "81", "height": "180"},
        headers=HTMX,
    )
    assert saved.status_code == 200, saved.text
    assert "Vitals saved." in saved.text
    assert re.search(
        r"Pulse</dt>\s*<dd><strong>130 /min</strong>\s*<span[^>]*>High</span>", saved.text
    )
    assert "BMI" in saved.text and "25 kg/m²" in saved.text

    page = await web.get(f"/encounters/{encounter_id}")
    assert "<span>Weight 81 kg (" in page.text  # the banner's fact
    reloaded = await web.get(f"/encounters/{encounter_id}/sections/vitals", headers=HTMX)
    assert reloaded.status_code == 200 and "130 /min" in reloaded.text

    action = re.search(
        r'hx-post="(/encounters/[^"]+/entered-in-error)"[^>]*>\s*<input[^>]*>\s*'
        r'<input type="hidden" name="version" value="(\d+)">\s*<label[^>]*>Pulse',
        saved.text,
    )
    assert action is not None
    too_short = await web.post(
        action.group(1), data={"reason": "x", "version": action.group(2)}, headers=HTMX
    )
    assert "at least 3 characters" in too_short.text
    corrected = await web.post(
        action.group(1),
        data={"reason": "wrong patient's pulse", "version": action.group(2)},
        headers=HTMX,
    )
    assert corrected.status_code == 200
    assert "Marked entered in error" in corrected.text and "130 /min" not in corrected.text

    # A receptionist sees no clinical data; a closed consultation shows no form.
    desk = await people.web("desk")
    assert (
        await desk.get(f"/encounters/{encounter_id}/sections/vitals", headers=HTMX)
    ).status_code == 403
    await doctor_api.post(
        f"/api/v1/encounters/{encounter_id}/cancel",
        json={"reason": "test"},
        headers={"If-Match": "*"},
    )
    closed = await web.get(f"/encounters/{encounter_id}")
    assert closed.status_code == 200 and 'id="section-vitals"' in closed.text
    assert "Save vitals" not in closed.text


async def test_the_trends_page_charts_each_vital_from_data_attributes(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    doctor_api = await people.api("doctor")
    patient = qc.patient_ids[1]
    for pulse, pressure in ((70, (120, 80)), (95, (150, 95)), (72, (118, 76))):
        saved = await doctor_api.post(
            f"/api/v1/patients/{patient}/vitals",
            json={"heart_rate": pulse, "systolic": pressure[0], "diastolic": pressure[1]},
        )
        assert saved.status_code == 201
    web = await people.web("doctor")
    page = await web.get(f"/patients/{patient}/vitals")
    assert page.status_code == 200
    assert '<script src="/static/vendor/chart.js/chart.umd.min.js" defer></script>' in page.text
    assert '<script src="/static/vitals-chart.js" defer></script>' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)  # no inline script
    charts = [
        json.loads(unescape(raw)) for raw in re.findall(r"data-vitals-chart='([^']*)'", page.text)
    ]
    by_label = {c["label"]: c for c in charts}
    assert set(by_label) == {"Pulse", "Blood pressure"}
    assert by_label["Pulse"]["values"] == [70.0, 95.0, 72.0]
    assert by_label["Pulse"]["flags"] == ["N", "H", "N"]
    assert [s["label"] for s in by_label["Blood pressure"]["series"]] == [
        "Systolic BP",
        "Diastolic BP",
    ]
    assert ">High</span>" in page.text  # the table says it in words too
    assert (await web.get("/static/vendor/chart.js/chart.umd.min.js")).status_code == 200
    assert (await web.get("/static/vitals-chart.js")).status_code == 200
    desk = await people.web("desk")
    assert (await desk.get(f"/patients/{patient}/vitals")).status_code == 403

    # Outside a consultation (triage in the waiting room), from the same page.
    refused = await web.post(f"/patients/{patient}/vitals", data={"spo2": "40", "heart_rate": "80"})
    assert refused.status_code == 422
    assert (
        'id="v-spo2-error"' in refused.text and "SpO2 must be between 50 and 100 %." in refused.text
    )
    assert 'value="80"' in refused.text
    saved = await web.post(f"/patients/{patient}/vitals", data={"spo2": "91", "heart_rate": "80"})
    assert saved.status_code == 303
    shown = await web.get(saved.headers["location"])
    assert "Vitals saved." in shown.text and "SpO2" in shown.text

    # A child's weight shows its growth centile (WHO), in the heading and the table.
    await scope_to_tenant(session, qc.organization_id)
    today = datetime.now(UTC).date()
    child = await register_patient(
        session,
        given_name="Mia",
        family_name="Small",
        sex_at_birth="female",
        birth_date=today - timedelta(days=2 * 365 + 200),
    )
    await session.commit()
    assert (
        await doctor_api.post(f"/api/v1/patients/{child.id}/vitals", json={"weight": "12.5"})
    ).status_code == 201
    grown = await web.get(f"/patients/{child.id}/vitals")
    assert re.search(r"Latest on the <strong>\d+(\.\d)?</strong> centile", grown.text)
    assert "<th>Centile</th>" in grown.text
