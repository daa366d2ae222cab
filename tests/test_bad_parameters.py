"""Bad values in the places the fuzz test found them: each is a 4xx with a message, and
the fault class behind it (a model built inside a handler, an unbounded date) is fixed
where it lives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.fuzz import resources
from tests.support.identity import api_as

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
async def staff(app: FastAPI, session: AsyncSession) -> Any:
    known = await resources(session, app)
    async with await api_as(app, session, known.pop("staff")) as client:
        yield client, known


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_a_reason_with_a_control_character_is_a_422(staff: Any) -> None:
    client, known = staff
    url = f"/api/v1/patients/{known['patient_id']}/documents/{known['document_id']}"
    # If-Match: * gets past the version requirement, so the reason itself is judged.
    response = await client.delete(
        url, params={"reason": "wrong\x1bpatient"}, headers={"If-Match": "*"}
    )
    refused(response, "reason")


async def test_a_booking_in_year_9999_is_a_422(staff: Any) -> None:
    client, known = staff
    body = {
        "patient_id": str(known["patient_id"]),
        "provider_id": str(known["provider_id"]),
        "location_id": str(known["location_id"]),
        "type_id": str(known["type_id"]),
        "starts_at": "9999-12-31T23:00:00-14:00",
    }
    refused(await client.post("/api/v1/appointments", json=body), "starts_at")


async def test_opening_hours_are_times_without_an_offset(staff: Any) -> None:
    client, known = staff
    block = {
        "location_id": str(known["location_id"]),
        "weekday": 0,
        "start_time": "08:00:00+14:00",
        "end_time": "17:00:00",
    }
    url = f"/api/v1/providers/{known['provider_id']}/hours"
    response = await client.put(url, json={"blocks": [block]}, headers={"If-Match": '"1"'})
    refused(response, "blocks.0.start_time")
