"""Fixtures of the billing tests: the queue clinic (a location, Dr. Ada and Dr. Bo, six
patients, currency USD) with its people signed in over the API; the front desk
(receptionist) holds billing:write; ``billing`` (the billing role) also billing:refund."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.clinical.conftest import People
from tests.support.identity import SignIn, create_user
from tests.support.queue import QueueClinic, make_queue_clinic


@pytest.fixture
async def qc(session: AsyncSession, clinic: Organization) -> QueueClinic:
    return await make_queue_clinic(session, clinic)


@pytest.fixture
def people(
    session: AsyncSession, qc: QueueClinic, sign_in_api: SignIn, sign_in_web: SignIn
) -> People:
    return People(session, qc, sign_in_api, sign_in_web)


@pytest.fixture
async def desk(people: People) -> httpx.AsyncClient:
    return await people.api("desk")


def if_match(body: dict[str, Any]) -> dict[str, str]:
    return {"If-Match": f'W/"{body["version"]}"'}


async def fee(desk: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    made = await desk.post("/api/v1/fee-schedule", json=body)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def draft(
    desk: httpx.AsyncClient, patient_id: object, *lines: dict[str, Any]
) -> dict[str, Any]:
    made = await desk.post(
        "/api/v1/invoices", json={"patient_id": str(patient_id), "lines": list(lines)}
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


async def issue(desk: httpx.AsyncClient, invoice: dict[str, Any]) -> dict[str, Any]:
    issued = await desk.post(f"/api/v1/invoices/{invoice['id']}/issue", headers=if_match(invoice))
    assert issued.status_code == 200, issued.text
    found: dict[str, Any] = issued.json()
    return found


@pytest.fixture
async def billing(
    session: AsyncSession, clinic: Organization, qc: QueueClinic, sign_in_api: SignIn
) -> httpx.AsyncClient:
    """A billing user over the API: credit notes, refunds and voids (billing:refund)."""
    user = await create_user(session, clinic, Role.BILLING)
    return await sign_in_api(user)
