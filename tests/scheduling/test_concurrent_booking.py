"""Fifty simultaneous bookings of overlapping times for one provider, sent over HTTP to a
real ``clinicdesk serve`` process: exactly one appointment, 49 clear 409 answers. On
SQLite and on PostgreSQL (where the exclusion constraint decides)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx

from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.scheduling.schemas import (
    AppointmentTypeWrite,
    HoursBlock,
    ProviderWrite,
    WeeklyHoursWrite,
)
from clinicdesk.scheduling.service import setup
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY
from tests.support.identity import PASSWORD
from tests.support.patients import register_patient
from tests.support.server import running_server

REQUESTS = 50


async def seed(url: str) -> dict[str, str]:
    db = create_database(url, pool_size=2)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            org = await organizations.create_organization(
                session, name="Busy Clinic", mfa_required_for_admins=False
            )
            await scope_to_tenant(session, org.id)
            doctor = await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=org.id,
                email="doctor@busy.example.org",
                full_name="Dr. Busy",
                roles=[Role.DOCTOR],
                password=None,
            )
            await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=org.id,
                email="desk@busy.example.org",
                full_name="Front Desk",
                roles=[Role.RECEPTIONIST],
                password=PASSWORD,
            )
            location = await organizations.create_location(
                session, actor=SYSTEM, data=LocationWrite(name="Main")
            )
            provider = await setup.create_provider(
                session,
                actor=SYSTEM,
                data=ProviderWrite(
                    user_id=doctor.id, display_name="Dr. Busy", location_ids=[location.id]
                ),
            )
            all_week = [
                HoursBlock(
                    location_id=location.id, weekday=d, start_time=time(0), end_time=time(23)
                )
                for d in range(7)
            ]
            await setup.set_weekly_hours(
                session,
                actor=SYSTEM,
                provider_id=provider.id,
                data=WeeklyHoursWrite(blocks=all_week),
            )
            kind = await setup.create_type(
                session,
                actor=SYSTEM,
                data=AppointmentTypeWrite(name="Visit", duration_minutes=30),
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


async def test_fifty_simultaneous_bookings_make_one_appointment(
    migrated_database_url: str, tmp_path: Path
) -> None:
    ids = await seed(migrated_database_url)
    day = datetime.now(UTC).date() + timedelta(days=3)
    base = datetime.combine(day, time(9), tzinfo=UTC)
    env = {
        "CLINICDESK_DATABASE_URL": migrated_database_url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
        "CLINICDESK_DB_POOL_SIZE": "10",
    }
    with running_server(tmp_path / "data", env=env) as url:
        limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            token = await client.post(
                "/api/v1/auth/token",
                data={"username": "desk@busy.example.org", "password": PASSWORD},
            )
            assert token.status_code == 200, token.text
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            # Starts ten seconds apart: every pair of these 30-minute visits overlaps.
            bodies = [
                {**ids, "starts_at": (base + timedelta(seconds=10 * n)).isoformat()}
                for n in range(REQUESTS)
            ]
            answers = await asyncio.gather(
                *(client.post("/api/v1/appointments", json=b) for b in bodies)
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [201] + [409] * (REQUESTS - 1), statuses
            for answer in answers:
                if answer.status_code == 409:
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert answer.json()["detail"]
            listed = await client.get(
                "/api/v1/appointments",
                params={
                    "start": base.isoformat(),
                    "end": (base + timedelta(days=1)).isoformat(),
                },
            )
            assert len(listed.json()["items"]) == 1
