"""Orders and results, on SQLite and PostgreSQL: an order goes ordered -> collected ->
resulted -> reviewed, results are flagged against the catalogue's range, the doctor's
inbox puts critical and abnormal results first, cancelling has its rules, and the pages
show it all."""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.service import results
from tests.clinical.conftest import People
from tests.support.queue import QueueClinic

POTASSIUM = {
    "name": "Potassium",
    "kind": "lab",
    "code": "2823-3",
    "default_unit": "mmol/L",
    "low_0": "3.5",
    "high_0": "5.1",
    "critical_low_0": "2.5",
    "critical_high_0": "6.5",
    "is_active": "true",
}


async def _catalogue_test(people: People, form: dict[str, str] = POTASSIUM) -> str:
    """Added on the settings page by the administrator; its id."""
    admin = await people.web("admin")
    added = await admin.post("/admin/settings/tests", data=form)
    assert added.status_code == 303, added.text
    page = await admin.get("/admin/settings/tests")
    assert form["name"] in page.text
    marker = "/admin/settings/tests/"
    start = page.text.index(marker) + len(marker)
    return page.text[start : start + 36]


async def _encounter(doctor: httpx.AsyncClient, patient_id: uuid.UUID) -> str:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient_id), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


def _if_match(body: dict[str, Any]) -> dict[str, str]:
    return {"If-Match": f'W/"{body["version"]}"'}


async def _order(
    doctor: httpx.AsyncClient, encounter_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    placed = await doctor.post(f"/api/v1/encounters/{encounter_id}/orders", json=body)
    assert placed.status_code == 201, placed.text
    found: dict[str, Any] = placed.json()
    return found


async def _results(
    doctor: httpx.AsyncClient, order: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    entered = await doctor.post(
        f"/api/v1/orders/{order['id']}/results", json={"results": rows}, headers=_if_match(order)
    )
    assert entered.status_code == 201, entered.text
    found: dict[str, Any] = entered.json()
    return found


async def test_an_order_is_collected_resulted_reviewed_and_the_inbox_order(
    people: People, qc: QueueClinic, session: AsyncSession
) -> None:
    test_id = await _catalogue_test(people)
    doctor = await people.api("doctor")
    encounter_id = await _encounter(doctor, qc.patient_ids[0])

    body = {"catalogue_item_id": test_id, "priority": "urgent", "clinical_note": "On diuretics"}
    key = {"Idempotency-Key": "order-1"}
    url = f"/api/v1/encounters/{encounter_id}/orders"
    first = await doctor.post(url, json=body, headers=key)
    again = await doctor.post(url, json=body, headers=key)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    order = first.json()
    assert (order["name"], order["code"], order["kind"]) == ("Potassium", "2823-3", "lab")
    assert order["status"] == "ordered"
    listed = await doctor.get(url)
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]

    collected = await doctor.post(
        f"/api/v1/orders/{order['id']}/collected", headers=_if_match(order)
    )
    assert collected.status_code == 200, collected.text
    assert collected.json()["status"] == "collected"
    stale = await doctor.post(f"/api/v1/orders/{order['id']}/collected", headers=_if_match(order))
    assert stale.status_code == 412
    twice = await doctor.post(
        f"/api/v1/orders/{order['id']}/collected", headers=_if_match(collected.json())
    )
    assert twice.status_code == 409
    assert "already collected" in twice.json()["detail"]

    resulted = await _results(doctor, collected.json(), [{"value_numeric": "6.8"}])
    assert resulted["status"] == "resulted"
    (result,) = resulted["results"]
    assert result["analyte"] == "Potassium"
    assert result["unit"] == "mmol/L"  # the catalogue's default
    assert Decimal(result["reference_low"]) == Decimal("3.5")
    assert Decimal(result["value_numeric"]) == Decimal("6.8")
    assert result["flag"] == "HH"  # beyond the catalogue's critical limit

    inbox = await doctor.get("/api/v1/results/inbox")
    assert [i["result"]["id"] for i in inbox.json()["items"]] == [result["id"]]
    other = await (await people.api("other_doctor")).get("/api/v1/results/inbox")
    assert other.json()["items"] == []  # another doctor's orders are not in mine

    reviewed = await doctor.post(
        f"/api/v1/results/{result['id']}/review",
        json={"comment": "Called the patient in."},
        headers=_if_match(result),
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review_comment"] == "Called the patient in."
    again_review = await doctor.post(
        f"/api/v1/results/{result['id']}/review", json={}, headers=_if_match(reviewed.json())
    )
    assert again_review.status_code == 409
    read = await doctor.get(f"/api/v1/orders/{order['id']}")
    assert read.json()["status"] == "reviewed"
    assert read.json()["reviewed_at"] is not None
    assert (await doctor.get("/api/v1/results/inbox")).json()["items"] == []

    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == qc.patient_ids[0])
        )
    )
    assert {
        "order.placed",
        "order.collected",
        "result.entered",
        "order.resulted",
        "result.reviewed",
        "order.reviewed",
    } <= actions
    views = set(
        await session.scalars(
            select(AuditEvent.details["view"].as_string()).where(
                AuditEvent.patient_id == qc.patient_ids[0], AuditEvent.action == "patient.viewed"
            )
        )
    )
    assert "order" in views

    # The inbox: critical, then abnormal, then the rest.
    encounter_id = await _encounter(doctor, qc.patient_ids[1])
    normal = await _order(doctor, encounter_id, {"name": "Glucose", "kind": "lab"})
    high = await _order(doctor, encounter_id, {"name": "CRP", "kind": "lab"})
    critical = await _order(doctor, encounter_id, {"catalogue_item_id": test_id})
    imaging = await _order(doctor, encounter_id, {"name": "Chest X-ray", "kind": "imaging"})
    assert imaging["kind"] == "imaging"

    in_range = {"reference_low": "3.9", "reference_high": "5.5", "unit": "mmol/L"}
    await _results(doctor, normal, [{"value_numeric": "5.0", **in_range}])
    await _results(doctor, high, [{"value_numeric": "42", "reference_high": "5"}])
    # The lab's printed range wins, the catalogue's critical limit still applies.
    crit = await _results(
        doctor,
        critical,
        [{"value_numeric": "2.1", "reference_low": "3.4", "reference_high": "5.3"}],
    )
    assert crit["results"][0]["flag"] == "LL"
    assert Decimal(crit["results"][0]["reference_low"]) == Decimal("3.4")
    text = await _results(
        doctor, imaging, [{"value_text": "Right lower lobe consolidation", "abnormal": True}]
    )
    assert text["results"][0]["flag"] == "A"

    inbox = (await doctor.get("/api/v1/results/inbox")).json()["items"]
    assert [(i["order_name"], i["result"]["flag"]) for i in inbox] == [
        ("Potassium", "LL"),
        ("CRP", "H"),
        ("Chest X-ray", "A"),
        ("Glucose", None),
    ]
    assert inbox[0]["patient_id"] == str(qc.patient_ids[1])
    # The page shows the most urgent first and says how many more wait.
    page = await (await people.web("doctor")).get("/results/inbox")
    assert "results waiting" not in page.text
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(results, "results_to_review", partial(results.results_to_review, limit=2))
        page = await (await people.web("doctor")).get("/results/inbox")
    assert "The 2 most urgent of 4 results waiting" in page.text

    # Receptionists see no clinical data; the inbox is a doctor's.
    desk = await people.api("desk")
    assert (await desk.get("/api/v1/results/inbox")).status_code == 403
    assert (await desk.get(f"/api/v1/orders/{normal['id']}")).status_code == 403


async def test_cancelling_what_is_refused_and_a_patients_series(
    people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    encounter_id = await _encounter(doctor, qc.patient_ids[2])
    order = await _order(doctor, encounter_id, {"name": "Lipid panel", "kind": "lab"})

    short = await doctor.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "x"}, headers=_if_match(order)
    )
    assert short.status_code == 422
    cancelled = await doctor.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "Done last week elsewhere"},
        headers=_if_match(order),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "Done last week elsewhere"
    late = await doctor.post(
        f"/api/v1/orders/{order['id']}/results",
        json={"results": [{"value_numeric": "1"}]},
        headers=_if_match(cancelled.json()),
    )
    assert late.status_code == 409
    assert "cancelled" in late.json()["detail"]

    resulted = await _order(doctor, encounter_id, {"name": "HbA1c", "kind": "lab"})
    after = await _results(doctor, resulted, [{"value_numeric": "48", "unit": "mmol/mol"}])
    refused = await doctor.post(
        f"/api/v1/orders/{resulted['id']}/cancel",
        json={"reason": "Too late now"},
        headers=_if_match(after),
    )
    assert refused.status_code == 409

    # Bad results: neither or both values, a range upside down, a value too large.
    for bad in (
        {},
        {"value_numeric": "1", "value_text": "one"},
        {"value_numeric": "1", "reference_low": "5", "reference_high": "3"},
        {"value_numeric": "1e15"},
    ):
        response = await doctor.post(
            f"/api/v1/orders/{resulted['id']}/results",
            json={"results": [bad]},
            headers=_if_match(after),
        )
        assert response.status_code == 422, bad

    # A patient's series of one analyte, newest first.
    series_encounter = await _encounter(doctor, qc.patient_ids[3])
    for value, when in (("7.1", "2026-01-10T09:00:00+00:00"), ("6.4", "2026-03-10T09:00:00+00:00")):
        order = await _order(doctor, series_encounter, {"name": "HbA1c", "kind": "lab"})
        entered = await doctor.post(
            f"/api/v1/orders/{order['id']}/results",
            json={
                "results": [{"value_numeric": value, "unit": "%", "reference_high": "6.5"}],
                "resulted_at": when,
            },
            headers=_if_match(order),
        )
        assert entered.status_code == 201, entered.text
    other = await _order(doctor, series_encounter, {"name": "TSH", "kind": "lab"})
    await _results(doctor, other, [{"value_numeric": "0.1"}])

    series = await doctor.get(
        f"/api/v1/patients/{qc.patient_ids[3]}/results", params={"analyte": "hba1c"}
    )
    assert series.status_code == 200
    items = series.json()["items"]
    assert [(Decimal(i["value_numeric"]), i["flag"]) for i in items] == [
        (Decimal("6.4"), None),
        (Decimal("7.1"), "H"),
    ]
    everything = await doctor.get(f"/api/v1/patients/{qc.patient_ids[3]}/results")
    assert {i["analyte"] for i in everything.json()["items"]} == {"HbA1c", "TSH"}
    future = await doctor.post(
        f"/api/v1/orders/{other['id']}/results",
        json={"results": [{"value_numeric": "1"}], "resulted_at": "2099-01-01T00:00:00+00:00"},
        headers={"If-Match": "*"},
    )
    assert future.status_code == 422

    # Nothing more is ordered into a closed consultation.
    closed = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/cancel",
        json={"reason": "Opened by mistake"},
        headers={"If-Match": "*"},
    )
    assert closed.status_code == 200, closed.text
    refused_order = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/orders", json={"name": "TSH", "kind": "lab"}
    )
    assert refused_order.status_code == 409
    free_text_without_name = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/orders", json={"kind": "lab"}
    )
    assert free_text_without_name.status_code == 422


async def test_the_pages_order_enter_sign_off_and_show_the_trend(
    people: People, qc: QueueClinic
) -> None:
    test_id = await _catalogue_test(people)
    doctor_api = await people.api("doctor")
    encounter_id = await _encounter(doctor_api, qc.patient_ids[4])
    web = await people.web("doctor")

    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200
    assert 'id="section-orders"' in page.text
    assert "Potassium (2823-3)" in page.text  # the catalogue picker

    placed = await web.post(
        f"/encounters/{encounter_id}/orders",
        data={"catalogue_item_id": test_id, "priority": "routine"},
        headers={"HX-Request": "true"},
    )
    assert placed.status_code == 200, placed.text
    assert "Potassium ordered." in placed.text
    assert "<html" not in placed.text  # the section alone
    refused = await web.post(
        f"/encounters/{encounter_id}/orders", data={}, headers={"HX-Request": "true"}
    )
    assert "Pick a test from the catalogue or type its name." in refused.text
    section = await web.get(
        f"/encounters/{encounter_id}/sections/orders", headers={"HX-Request": "true"}
    )
    assert "Mark collected" in section.text

    order_id = (await doctor_api.get(f"/api/v1/encounters/{encounter_id}/orders")).json()["items"][
        0
    ]["id"]
    order_page = await web.get(f"/orders/{order_id}")
    assert order_page.status_code == 200
    assert "Enter results" in order_page.text
    comma = await web.post(
        f"/orders/{order_id}/results",
        data={"version": "1", "analyte_0": "Potassium", "value_0": "5,9"},
        follow_redirects=True,
    )
    assert "with a point (5.1), not a comma" in comma.text
    saved = await web.post(
        f"/orders/{order_id}/results",
        data={"version": "1", "analyte_0": "Potassium", "value_0": "5.9"},
        follow_redirects=True,
    )
    assert "Results saved." in saved.text
    assert "High" in saved.text

    home = await web.get("/")
    assert "Results to review" in home.text
    inbox = await web.get("/results/inbox")
    assert inbox.status_code == 200
    assert "flag-abnormal" in inbox.text and ">High<" in inbox.text
    result = (await doctor_api.get(f"/api/v1/orders/{order_id}")).json()["results"][0]
    signed = await web.post(
        f"/results/{result['id']}/review",
        data={"version": str(result["version"]), "back": "/results/inbox"},
        follow_redirects=True,
    )
    assert "Result signed off." in signed.text
    assert "Nothing to review" in signed.text

    trend = await web.get(f"/patients/{qc.patient_ids[4]}/results")
    assert trend.status_code == 200
    assert "Potassium" in trend.text and "3.5 to 5.1" in trend.text
    one = await web.get(f"/patients/{qc.patient_ids[4]}/results", params={"analyte": "Potassium"})
    assert "All analytes" in one.text

    # A receptionist sees no clinical pages; the catalogue is the administrator's.
    desk = await people.web("desk")
    assert (await desk.get("/results/inbox")).status_code == 403
    assert (await web.get("/admin/settings/tests")).status_code == 403


async def test_the_catalogue_page_refuses_contradicting_ranges_and_stale_saves(
    people: People, qc: QueueClinic
) -> None:
    test_id = await _catalogue_test(people)
    admin = await people.web("admin")
    upside_down = {**POTASSIUM, "version": "1", "low_0": "5.1", "high_0": "3.5"}
    refused = await admin.post(f"/admin/settings/tests/{test_id}", data=upside_down)
    assert refused.status_code == 422
    assert "The low limit (5.1) is above the high limit (3.5)." in refused.text
    assert 'value="5.1"' in refused.text  # what was typed stays on the form
    taken = await admin.post("/admin/settings/tests", data={**POTASSIUM, "name": "potassium"})
    assert taken.status_code == 409
    assert "already has a test named" in taken.text

    renamed = {**POTASSIUM, "version": "1", "name": "Potassium (serum)", "is_active": ""}
    saved = await admin.post(f"/admin/settings/tests/{test_id}", data=renamed)
    assert saved.status_code == 303, saved.text
    stale = await admin.post(f"/admin/settings/tests/{test_id}", data=renamed)
    assert stale.status_code == 412

    # Taken off the order form: ordering it is refused, free text still works.
    doctor = await people.api("doctor")
    encounter_id = await _encounter(doctor, qc.patient_ids[5])
    inactive = await doctor.post(
        f"/api/v1/encounters/{encounter_id}/orders", json={"catalogue_item_id": test_id}
    )
    assert inactive.status_code == 409
    assert "no longer offered" in inactive.json()["detail"]
