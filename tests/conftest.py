"""Shared fixtures: both databases, a transaction per test, the app and an HTTP client.

Every test that asks for ``db`` (or anything built on it) runs twice: on SQLite and on a
real PostgreSQL server. Migrations run once per database per session; each test runs in
a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import sqlite3
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clinicdesk.app import create_app
from clinicdesk.code_lists import CODE_LISTS
from clinicdesk.config import Settings
from clinicdesk.core import db as core_db
from clinicdesk.core import migrations, reference_data
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import ClinicSession, Database, create_database, reading, unit_of_work
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.runtime import get_session, is_read
from clinicdesk.core.tenancy import clear_scope
from clinicdesk.identity import passwords
from clinicdesk.patients import icd10
from clinicdesk.reactions import connect_reactions
from tests.support.postgres import APP_ROLE, ThrowawayPostgres, start_throwaway_postgres

# Property tests check what holds, not how fast: on a shared 2-core machine one example can
# take a second when other work runs, and a deadline would make the suite flaky. Speed is
# measured in benchmarks/.
hypothesis_settings.register_profile("clinicdesk", deadline=None)
hypothesis_settings.load_profile("clinicdesk")

pytest_plugins = ["tests.support.identity"]

T = TypeVar("T")

BACKENDS = ("sqlite", "postgresql")

# A read unit of work that writes in its own transaction is a bug here, not a warning.
core_db.READS_MUST_NOT_WRITE = True

# The suite makes thousands of requests from one address, faster than any person; the
# request limits are raised for it (servers it starts inherit these). tests/core/
# test_throttle.py proves the default limits refuse.
for _limit_class in ("GENERAL", "SEARCH", "EXPORT", "MAIL"):
    os.environ.setdefault(f"CLINICDESK_RATE_LIMIT_{_limit_class}", "1000000/minute")

# Tests log JSON like production, so a test run shows what an operator would see.
configure_logging(level="INFO", fmt="json")
# Service-level tests run the domains' signal handlers as the built app does.
connect_reactions()


def pytest_report_header(config: pytest.Config) -> list[str]:
    from clinicdesk.core.sqlite_driver import sqlite_version
    from tests.web.conftest import CHROMIUM

    postgres = os.environ.get("CLINICDESK_TEST_POSTGRES_URL") and "CLINICDESK_TEST_POSTGRES_URL"
    return [
        f"databases: SQLite {sqlite_version()} (bundled) and PostgreSQL "
        f"({postgres or 'throwaway cluster started by this session'})",
        f"browser: {CHROMIUM} (headless, via Playwright)",
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test may be skipped: a missing PostgreSQL or Chromium is a failure, not a skip."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(
                f"{len(skipped)} test(s) were skipped; skipping is not allowed here", red=True
            )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres | None]:
    """The session's own PostgreSQL cluster, unless CLINICDESK_TEST_POSTGRES_URL is set."""
    if os.environ.get("CLINICDESK_TEST_POSTGRES_URL"):
        yield None
        return
    server = start_throwaway_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_owner_url(postgres_server: ThrowawayPostgres | None) -> str:
    """The role that owns the tables and runs migrations."""
    if postgres_server is None:
        external = os.environ["CLINICDESK_TEST_POSTGRES_URL"]
        return Settings(database_url=external).resolved_database_url
    return postgres_server.url()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: ThrowawayPostgres | None, postgres_owner_url: str) -> str:
    """The role the application connects as (owning no table). With an external
    CLINICDESK_TEST_POSTGRES_URL, CLINICDESK_TEST_POSTGRES_APP_URL names it."""
    if postgres_server is None:
        app_url = os.environ.get("CLINICDESK_TEST_POSTGRES_APP_URL")
        if not app_url:
            return postgres_owner_url
        return Settings(database_url=app_url).resolved_database_url
    return postgres_server.url(role=APP_ROLE)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if backend == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(scope="session")
def owner_url(backend: str, request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if backend == "sqlite" else "postgres_owner_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(scope="session")
async def db(database_url: str, owner_url: str) -> AsyncIterator[Database]:
    """A migrated database (once per backend per session), connected as the app role."""
    owner = create_database(owner_url, pool_size=1)
    app_role = make_url(database_url).username if database_url != owner_url else None
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        await reference_data.fill_missing(owner, CODE_LISTS)
    finally:
        await owner.dispose()
    database = create_database(database_url, pool_size=5)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session whose commits land in a savepoint of a transaction that is rolled back."""
    async with db.engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
            sync_session_class=ClinicSession,
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


# One key pair for every app a test session builds: encrypted values written through one
# app instance stay readable through the next.
TEST_SECRET_KEY = "test-secret-key-" + "x" * 48
TEST_FIELD_KEY = base64.urlsafe_b64encode(b"clinicdesk-test-field-key-32byte").decode()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "secret_key": TEST_SECRET_KEY,
        "field_encryption_key": TEST_FIELD_KEY,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, owner_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, database_owner_url=owner_url)


@pytest.fixture(autouse=True, scope="session")
def icd10_classification_read_once() -> Iterator[None]:
    """Migration 0015 reads the ICD-10-CM classification in a child process (~2 s) and
    the suite migrates many fresh databases: each test process reads it once."""
    original = icd10.classification
    read = functools.cache(lambda: tuple(original()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(icd10, "classification", lambda: iter(read()))
        yield


@pytest.fixture(autouse=True, scope="session")
def one_password_hash_per_password() -> Iterator[None]:
    """An argon2id hash costs ~0.15 s by design (more on a loaded machine), and the suite
    creates thousands of users with a handful of passwords: each test process hashes each
    password once and reuses the hash. It is a real hash with the production parameters,
    so signing in verifies it exactly as it would in production."""
    original = passwords.hash_password
    hashed: dict[str, str] = {}

    async def hash_once(password: str) -> str:
        if password not in hashed:
            hashed[password] = await original(password)
        return hashed[password]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "hash_password", hash_once)
        yield


@pytest.fixture(autouse=True, scope="session")
def field_encryption_for_session_fixtures() -> None:
    configure_field_encryption(FieldKeyring(TEST_FIELD_KEY))


@pytest.fixture(autouse=True)
def field_encryption(field_encryption_for_session_fixtures: None) -> None:
    # Per test: building an app with keys of its own (a fresh data directory generates
    # them) replaces the process's keyring, and a later test reading rows written with
    # the test key must not depend on which tests ran before it.
    configure_field_encryption(FieldKeyring(TEST_FIELD_KEY))


@pytest.fixture
async def app(settings: Settings, session: AsyncSession) -> AsyncIterator[FastAPI]:
    """The real application, its request sessions joined to the test's transaction."""
    application = create_app(settings, configure_logs=False)

    async def test_session(request: Request) -> AsyncIterator[AsyncSession]:
        # Each request starts unscoped, as a fresh production session does; a scope the
        # test set up with must not leak into the request (it would hide missing scoping).
        await clear_scope(session)
        # On SQLite a GET is a read unit of work, as in production; here a GET that
        # writes in its own transaction fails (READS_MUST_NOT_WRITE).
        reads = is_read(request) and application.state.runtime.db.reader
        with reading(session) if reads else nullcontext(session):
            async with unit_of_work(session):
                yield session

    application.dependency_overrides[get_session] = test_session
    try:
        yield application
    finally:
        await application.state.runtime.db.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def fresh_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """An empty, never-migrated database of the current backend, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    owner_url = str(request.getfixturevalue("postgres_owner_url"))
    async with postgres_database(owner_url, "clinicdesk_fresh") as url:
        yield url


def run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to the end on an event loop of its own, in another thread: for the
    template fixtures, which synchronous code and other fixtures call while the test
    session's loop is already running."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


async def _migrate(url: str, *, grant_to: str | None = None) -> None:
    database = create_database(url, pool_size=1)
    try:
        await migrations.upgrade(database, grant_to=grant_to)
        await reference_data.fill_missing(database, CODE_LISTS)
    finally:
        await database.dispose()  # a template has no open connection when it is copied


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per test process: the original that
    ``migrated_database_url`` and ``migrated_data_dir`` copy. Migrating from empty and
    filling the code lists takes seconds (the ICD-10-CM and drug vocabulary loads);
    copying it, milliseconds."""
    path = tmp_path_factory.mktemp("template") / "clinicdesk.db"
    run_apart(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_owner_url: str, postgres_url: str) -> Iterator[str]:
    """The PostgreSQL counterpart: a database migrated once (its tables granted to the
    application role), copied by ``CREATE DATABASE ... TEMPLATE``."""
    app_role = make_url(postgres_url).username
    grant = app_role if app_role != make_url(postgres_owner_url).username else None
    name = run_apart(create_postgres_database(postgres_owner_url, "clinicdesk_template"))
    try:
        url = make_url(postgres_owner_url).set(database=name)
        run_apart(_migrate(url.render_as_string(hide_password=False), grant_to=grant))
        yield name
    finally:
        run_apart(drop_postgres_database(postgres_owner_url, name))


@asynccontextmanager
async def _postgres_admin(owner_url: str) -> AsyncIterator[AsyncConnection]:
    """An autocommit connection for CREATE and DROP DATABASE."""
    admin = create_database(owner_url, pool_size=1)
    try:
        async with admin.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await admin.dispose()


def copy_sqlite_database(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (a plain file copy could miss what
    waits in the write-ahead log)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    copy.close()
    original.close()


@pytest.fixture
async def migrated_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A database of the current backend of its own, already at the newest revision (as
    the tables' owner on PostgreSQL), dropped afterwards. For tests that need commits that
    really land; tests of the migrations themselves start from ``fresh_database_url``."""
    if backend == "sqlite":
        target = tmp_path / "migrated.db"
        copy_sqlite_database(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    owner_url = str(request.getfixturevalue("postgres_owner_url"))
    template = request.getfixturevalue("postgres_template")
    async with postgres_database(owner_url, "clinicdesk_migrated", template=template) as url:
        yield url


@asynccontextmanager
async def postgres_database(
    owner_url: str, prefix: str, *, template: str | None = None
) -> AsyncIterator[str]:
    """A new database (empty, or a copy of ``template``) on the owner's server, dropped
    afterwards; yields its URL as the owner."""
    name = await create_postgres_database(owner_url, prefix, template=template)
    try:
        yield make_url(owner_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await drop_postgres_database(owner_url, name)


async def create_postgres_database(
    owner_url: str, prefix: str, *, template: str | None = None
) -> str:
    name = f"{prefix}_{os.urandom(4).hex()}"
    copy = f' TEMPLATE "{template}"' if template else ""
    async with _postgres_admin(owner_url) as admin:
        await admin.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    return name


async def drop_postgres_database(owner_url: str, name: str) -> None:
    async with _postgres_admin(owner_url) as admin:
        await admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def migrated_data_dir(tmp_path: Path, sqlite_template: Path) -> Path:
    """A data directory whose embedded SQLite database is already at the newest revision,
    for tests that start a server process and are not about its first start (the web
    tests' ``live_clinic`` keeps the README's literal first start)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    copy_sqlite_database(sqlite_template, data_dir / "clinicdesk.db")
    return data_dir


@pytest.fixture
async def probe_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the app plus the test-only routes of ``tests.support.routes``."""
    from tests.support import routes

    app.include_router(routes.router)
    routes.events.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
