"""Database faults answer like any expected error, never 500, on both databases.

* Writers racing on one version: exactly one wins, the rest get the same 412 as a
  stale ``If-Match`` (on PostgreSQL the loser learns it from the ORM's version check).
* The database away, busy past the lock wait, or full: 503 with ``Retry-After`` and a
  message a person can act on, and ``/health/ready`` says so.

The app here runs on a fresh database with its own sessions (no test transaction), so
the requests really run in parallel.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from clinicdesk.app import create_app
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.patients.models import Patient
from clinicdesk.scheduling.schemas import (
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import setup
from tests.conftest import make_settings
from tests.patients.test_views import person, register
from tests.support.identity import PASSWORD, SignIn, create_user
from tests.support.patients import register_patient

WRITERS = 10
DOCTOR = "doctor@faults.example.org"


@dataclass
class Live:
    app: FastAPI
    client: httpx.AsyncClient
    ids: dict[str, str]


async def seed(url: str) -> dict[str, str]:
    db = create_database(url, pool_size=2)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            org = await organizations.create_organization(
                session, name="Fault Clinic", mfa_required_for_admins=False
            )
            await scope_to_tenant(session, org.id)
            doctor = await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=org.id,
                email=DOCTOR,
                full_name="Dr. Fault",
                roles=[Role.DOCTOR],
                password=PASSWORD,
            )
            location = await organizations.create_location(
                session, actor=SYSTEM, data=LocationWrite(name="Main")
            )
            provider = await setup.create_provider(
                session,
                actor=SYSTEM,
                data=ProviderWrite(
                    user_id=doctor.id, display_name="Dr. Fault", location_ids=[location.id]
                ),
            )
            blocks = [
                HoursBlock(
                    location_id=location.id, weekday=d, start_time=time(0), end_time=time(23)
                )
                for d in range(7)
            ]
            await setup.set_weekly_hours(
                session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=blocks)
            )
            kind = await setup.create_type(
                session, actor=SYSTEM, data=AppointmentTypeWrite(name="Visit", duration_minutes=30)
            )
            patient = await register_patient(
                session, given_name="Pat", family_name="Race", birth_date=date(1990, 1, 1)
            )
            return {
                "patient_id": str(patient.id),
                "provider_id": str(provider.id),
                "location_id": str(location.id),
                "type_id": str(kind.id),
            }
    finally:
        await db.dispose()


@pytest.fixture
async def live(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    ids = await seed(fresh_database_url)
    settings = make_settings(
        tmp_path, database_url=fresh_database_url, db_pool_size=WRITERS, sqlite_busy_timeout_ms=1500
    )
    app = create_app(settings, configure_logs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": DOCTOR, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        try:
            yield Live(app=app, client=client, ids=ids)
        finally:
            await app.state.runtime.db.dispose()


def assert_one_winner(answers: list[httpx.Response]) -> None:
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [412] * (WRITERS - 1), statuses
    for answer in answers:
        if answer.status_code == 412:
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["type"] == "urn:clinicdesk:problem:stale-version"
            assert "changed" in answer.json()["detail"]


async def race(requests: list[Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


async def test_parallel_writers_of_one_version_get_one_success_and_412s(live: Live) -> None:
    client, ids = live.client, live.ids
    patient_url = f"/api/v1/patients/{ids['patient_id']}"
    read = await client.get(patient_url)
    assert read.status_code == 200, read.text
    etag = read.headers["etag"]
    base = {"given_name": "Pat", "family_name": "Race", "birth_date": "1990-01-01"}
    answers = await race(
        [
            client.put(
                patient_url,
                json={**base, "given_name": "Pat" + "abcdefghij"[n]},
                headers={"If-Match": etag},
            )
            for n in range(WRITERS)
        ]
    )
    assert_one_winner(answers)

    allergy = await client.post(f"{patient_url}/allergies", json={"substance": "Penicillin"})
    assert allergy.status_code == 201, allergy.text
    allergy_url = f"{patient_url}/allergies/{allergy.json()['id']}"
    answers = await race(
        [
            client.put(
                allergy_url,
                json={"substance": "Penicillin", "reaction": f"rash {n}"},
                headers={"If-Match": allergy.headers["etag"]},
            )
            for n in range(WRITERS)
        ]
    )
    assert_one_winner(answers)

    starts = datetime.combine(datetime.now(UTC).date() + timedelta(days=3), time(9), tzinfo=UTC)
    booked = await client.post(
        "/api/v1/appointments",
        json={
            "patient_id": ids["patient_id"],
            "provider_id": ids["provider_id"],
            "location_id": ids["location_id"],
            "type_id": ids["type_id"],
            "starts_at": starts.isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    answers = await race(
        [
            client.post(
                f"/api/v1/appointments/{booked.json()['id']}/cancel",
                json={"reason": f"called in {n}"},
                headers={"If-Match": booked.headers["etag"]},
            )
            for n in range(WRITERS)
        ]
    )
    assert_one_winner(answers)


async def test_an_edit_form_that_loses_the_race_at_the_database_says_so(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    """The form's version matched when it was read, but another writer committed before
    the UPDATE (simulated: the row's version moves on just before the flush). The page
    is the stale-edit form with its message, as for a stale form version; never a 500."""
    desk = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    patient_id = await register(desk)
    form_page = await desk.get(f"/patients/{patient_id}/edit")
    fields = dict(
        re.findall(r'<input type="hidden" name="([\w]+)" value="([^"]*)"', form_page.text)
    )
    loaded = {k: v for k, v in fields.items() if k.startswith("loaded_") or k == "version"}

    def another_writer_commits_first(sync_session: Session, *_: object) -> None:
        if any(isinstance(o, Patient) for o in sync_session.dirty):
            sync_session.connection().execute(
                update(Patient.__table__)  # type: ignore[arg-type]
                .where(Patient.__table__.c.id == uuid.UUID(patient_id))
                .values(version=Patient.__table__.c.version + 1)
            )

    event.listen(session.sync_session, "before_flush", another_writer_commits_first)
    try:
        raced = await desk.post(
            f"/patients/{patient_id}/edit", data={**person(), **loaded, "city": "Boston"}
        )
    finally:
        event.remove(session.sync_session, "before_flush", another_writer_commits_first)
    assert raced.status_code == 412, raced.text
    assert "Someone else changed this record" in raced.text
    assert 'value="Boston"' in raced.text  # what this user typed is kept
