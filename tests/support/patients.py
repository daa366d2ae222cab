"""Patient test helpers: the one way tests make patients, at the service level
(``register_patient``) or over the JSON API (``patient_json`` / ``register_over_http``).

Defaults are valid and distinct enough for a test; a test that asserts on a name, a date
or an identifier passes it as an override."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.patients.models import Patient
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service import records

_serial = itertools.count(1)


def patient_create(**overrides: Any) -> PatientCreate:
    """A valid registration; every field can be overridden."""
    values: dict[str, Any] = {
        "given_name": "Test",
        "family_name": f"Patient{chr(97 + next(_serial) % 26)}",
        "birth_date": date(1980, 1, 1),
    }
    values.update(overrides)
    return PatientCreate(**values)


async def register_patient(
    session: AsyncSession, *, actor: Actor = SYSTEM, **overrides: Any
) -> Patient:
    """A patient registered through the service, in the session's current tenant scope."""
    return await records.register_patient(session, actor=actor, data=patient_create(**overrides))


def patient_json(**overrides: Any) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/patients``: a full registration as the front desk
    types it (a US phone, an e-mail, a national id)."""
    body: dict[str, Any] = {
        "given_name": "John",
        "family_name": "Smith",
        "birth_date": "1980-03-14",
        "sex_at_birth": "male",
        "phone": "(617) 201-3344",
        "email": "john.smith@example.com",
        "national_id": "123-45-6789",
    }
    body.update(overrides)
    return body


async def register_over_http(
    client: httpx.AsyncClient, *, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """``POST /api/v1/patients`` with ``patient_json(**overrides)``; the created patient."""
    response = await client.post(
        "/api/v1/patients", json=patient_json(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
