"""Database faults answer like any expected error, never 500, on both databases.

* Writers racing on one version: exactly one wins, the rest get the same 412 as a
  stale ``If-Match`` (on PostgreSQL the loser learns it from the ORM's version check).
* Two creates racing on a unique key: one 201, the rest 409.
* The database away, busy past the lock wait, or full, or Redis away for sign-in: 503
  with ``Retry-After`` and a message a person can act on, and ``/health/ready`` says so.
* A running job's lease heartbeat outlives a busy database.

The app here runs on a fresh database with its own sessions (no test transaction), so
the requests really run in parallel.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pysqlite3.dbapi2 as bundled_sqlite
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import event, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from clinicdesk.app import create_app
from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope, unit_of_work
from clinicdesk.core.jobs import Job, JobContext, JobKind, JobRegistry, enqueue
from clinicdesk.core.jobs.runner import JobRunner
from clinicdesk.core.models import utcnow
from clinicdesk.core.runtime import get_session
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, sessions, users
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
from tests.support.postgres import free_port
from tests.support.tcpproxy import TcpProxy

WRITERS = 10
ONLY_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
ONLY_POSTGRES = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
DOCTOR = "doctor@faults.example.org"
ADMIN = "admin@faults.example.org"


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
            await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=org.id,
                email=ADMIN,
                full_name="Ada Admin",
                roles=[Role.ADMIN],
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
                "organization_id": str(org.id),
                "doctor_id": str(doctor.id),
                "patient_id": str(patient.id),
                "provider_id": str(provider.id),
                "location_id": str(location.id),
                "type_id": str(kind.id),
            }
    finally:
        await db.dispose()


@asynccontextmanager
async def serving(
    url: str, tmp_path: Path, ids: dict[str, str], user: str = DOCTOR, **settings: Any
) -> AsyncIterator[Live]:
    """The app on ``url`` with its own sessions, and an API client signed in as ``user``."""
    app = create_app(
        make_settings(tmp_path, database_url=url, db_pool_size=WRITERS, **settings),
        configure_logs=False,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            token = await client.post(
                "/api/v1/auth/token", data={"username": user, "password": PASSWORD}
            )
            assert token.status_code == 200, token.text
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield Live(app=app, client=client, ids=ids)
    finally:
        await app.state.runtime.db.dispose()


@ONLY_POSTGRES  # SQLite writers queue for the lock: the check itself refuses the others
async def test_parallel_invitations_of_one_address_make_one_account(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """The check for a taken address and the insert race on PostgreSQL; the loser's unique
    violation is a 409 like the check's, never a 500."""
    ids = await seed(migrated_database_url)
    async with serving(migrated_database_url, tmp_path, ids, user=ADMIN) as live:
        body = {
            "email": "new.nurse@faults.example.org",
            "full_name": "N. Nurse",
            "roles": ["nurse"],
        }
        answers = await race([live.client.post("/api/v1/users", json=body) for _ in range(WRITERS)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (WRITERS - 1), statuses
    for answer in answers:
        if answer.status_code == 409:
            assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
async def live(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with serving(
        migrated_database_url, tmp_path, await seed(migrated_database_url)
    ) as started:
        yield started


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


UPDATE = {"given_name": "Pat", "family_name": "Again", "birth_date": "1990-01-01"}


async def current_version(live: Live) -> dict[str, str]:
    read = await live.client.get(f"/api/v1/patients/{live.ids['patient_id']}")
    assert read.status_code == 200, read.text
    return {"If-Match": read.headers["etag"]}


async def browser(live: Live) -> httpx.AsyncClient:
    """A browser signed in as the doctor (a web session, as after the sign-in form)."""
    config: IdentityConfig = live.app.state.identity
    async with session_scope(live.app.state.runtime.db) as session:
        await scope_to_tenant(session, uuid.UUID(live.ids["organization_id"]))
        doctor = await session.get(User, uuid.UUID(live.ids["doctor_id"]))
        assert doctor is not None
        token, _ = await sessions.start_web_session(
            session, user=doctor, config=config, mfa_verified=True
        )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=live.app),
        base_url="http://testserver",
        headers={"Accept": "text/html"},
    )
    client.cookies.set(config.session_cookie, token)
    return client


def assert_fault(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == f"urn:clinicdesk:problem:{code}"
    assert "nothing was saved" in answer.json()["detail"]
    assert int(answer.headers["retry-after"]) >= 1


@ONLY_SQLITE
async def test_a_write_that_waits_past_the_sqlite_lock_gets_503(
    migrated_database_url: str, tmp_path: Path
) -> None:
    ids = await seed(migrated_database_url)
    async with serving(migrated_database_url, tmp_path, ids, sqlite_busy_timeout_ms=200) as live:
        patient_url = f"/api/v1/patients/{ids['patient_id']}"
        version = await current_version(live)
        holder = bundled_sqlite.connect(
            make_url(migrated_database_url).database, isolation_level=None, timeout=0
        )
        holder.execute("BEGIN IMMEDIATE")  # another process writing for longer than 200 ms
        try:
            answer = await live.client.put(patient_url, json=UPDATE, headers=version)
        finally:
            holder.rollback()
            holder.close()
        assert_fault(answer, "database-busy")
        again = await live.client.put(patient_url, json=UPDATE, headers=version)
        assert again.status_code == 200, again.text


@ONLY_SQLITE
async def test_a_full_database_gets_503_and_readiness_says_so(
    migrated_database_url: str, tmp_path: Path
) -> None:
    ids = await seed(migrated_database_url)
    async with serving(migrated_database_url, tmp_path, ids) as live:
        assert (await live.client.get("/health/ready")).status_code == 200
        engine = live.app.state.runtime.db.engine

        def no_room_to_grow(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count={int(pages)}")
            cursor.close()

        event.listen(engine.sync_engine, "connect", no_room_to_grow)
        await engine.dispose()  # every connection from now on is one with a full disk
        letters = "abcdefghijklmnopqrstuvwxyz"
        for n in range(100):
            answer = await live.client.post(
                "/api/v1/patients",
                json={
                    "given_name": "Ann",
                    "family_name": "Full" + letters[n // 26] + letters[n % 26],
                    "birth_date": "1970-01-01",
                },
            )
            if answer.status_code != 201:
                break
        assert_fault(answer, "database-full")
        assert answer.headers["retry-after"] == "60"
        ready = await live.client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert ready.json()["database"]["status"] == "full"


@ONLY_POSTGRES
async def test_postgres_away_answers_503_and_service_resumes_when_it_is_back(
    migrated_database_url: str, tmp_path: Path
) -> None:
    ids = await seed(migrated_database_url)
    real = make_url(migrated_database_url)
    assert real.host is not None and real.port is not None
    proxy = TcpProxy(real.host, real.port)
    await proxy.start()
    through_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        async with serving(through_proxy, tmp_path, ids) as live:
            patient_url = f"/api/v1/patients/{ids['patient_id']}"
            version = await current_version(live)
            web = await browser(live)

            await proxy.cut()  # connections lost, new ones refused: a restart or an outage
            assert_fault(
                await live.client.put(patient_url, json=UPDATE, headers=version),
                "database-unavailable",
            )
            assert_fault(await live.client.get(patient_url), "database-unavailable")
            page = await web.get(f"/patients/{ids['patient_id']}")
            await web.aclose()
            assert page.status_code == 503, page.text
            assert page.headers["retry-after"]
            assert "The database is unavailable" in page.text
            ready = await live.client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["database"]["status"] == "unreachable"

            await proxy.resume()
            assert (await live.client.get("/health/ready")).status_code == 200
            back = await live.client.put(patient_url, json=UPDATE, headers=version)
            assert back.status_code == 200, back.text
    finally:
        await proxy.cut()


@ONLY_POSTGRES
async def test_a_request_whose_connection_the_server_ends_gets_503(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL stopping (or an administrator) ends the backend mid-request: 57P01."""
    ids = await seed(migrated_database_url)
    async with serving(migrated_database_url, tmp_path, ids) as live:
        patient_url = f"/api/v1/patients/{ids['patient_id']}"
        version = await current_version(live)
        admin = create_database(migrated_database_url, pool_size=1)
        try:
            async with admin.engine.connect() as locker:
                await locker.execute(
                    text("SELECT 1 FROM patients WHERE id = :id FOR UPDATE"),
                    {"id": uuid.UUID(ids["patient_id"])},
                )
                pending = asyncio.create_task(
                    live.client.put(patient_url, json=UPDATE, headers=version)
                )
                waiting = None
                for _ in range(200):
                    waiting = await locker.scalar(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()"
                        )
                    )
                    if waiting is not None:
                        break
                    await asyncio.sleep(0.05)
                assert waiting is not None, "the update never waited for the row lock"
                await locker.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting})
                answer = await pending
                await locker.rollback()
        finally:
            await admin.dispose()
        assert_fault(answer, "database-unavailable")
        again = await live.client.put(patient_url, json=UPDATE, headers=version)
        assert again.status_code == 200, again.text


class Nothing(BaseModel):
    pass


@ONLY_SQLITE
async def test_a_running_jobs_lease_is_renewed_again_after_the_database_was_busy(
    migrated_database_url: str,
) -> None:
    """The heartbeat misses its beats while another process holds the write lock past the
    lock wait, and renews the lease once the lock is free (it used to stop for good)."""
    db = create_database(migrated_database_url, pool_size=3, sqlite_busy_timeout_ms=50)
    release = asyncio.Event()
    working = asyncio.Event()

    async def wait_for_release(_context: JobContext, _payload: Nothing) -> None:
        working.set()
        await release.wait()

    registry = JobRegistry()
    kind = JobKind("test.wait", Nothing)
    registry.register(kind, wait_for_release)
    runner = JobRunner(db, registry, lease=timedelta(seconds=0.6))  # a beat every 0.2 s
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            await use_system_scope(session)
            job_id = await enqueue(session, kind, Nothing())
        running = asyncio.create_task(runner.run_one())
        async with asyncio.timeout(10):
            await working.wait()

        holder = bundled_sqlite.connect(
            make_url(migrated_database_url).database, isolation_level=None, timeout=0
        )
        holder.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(0.7)  # beats fail with "database is locked"
        holder.rollback()
        holder.close()
        freed = utcnow()

        await asyncio.sleep(1.0)
        async with session_scope(db) as session:
            await use_system_scope(session)
            job = await session.get(Job, job_id)
            assert job is not None and job.locked_until is not None
            assert job.locked_until > freed + timedelta(seconds=0.6)  # renewed since
        release.set()
        async with asyncio.timeout(10):
            assert await running
    finally:
        release.set()
        await db.dispose()


async def test_signing_in_while_redis_is_away_gets_503(
    settings: Settings, session: AsyncSession
) -> None:
    """The attempt counter store is down: the sign-in is refused with a message, not 500."""
    app = create_app(
        settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}),
        configure_logs=False,
    )

    async def test_session() -> AsyncIterator[AsyncSession]:
        async with unit_of_work(session):
            yield session

    app.dependency_overrides[get_session] = test_session
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            answer = await client.post(
                "/api/v1/auth/token", data={"username": DOCTOR, "password": PASSWORD}
            )
    finally:
        await app.state.runtime.db.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"] == "urn:clinicdesk:problem:throttle-unavailable"
    assert answer.headers["retry-after"] == "10"
