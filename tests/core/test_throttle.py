"""Every page and API call is throttled per signed-in caller and per client address,
with stricter classes for search, exports and mail; 429 with Retry-After; shared by
processes through Redis. Probes and static files are never throttled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import create_app, throttle_rules
from clinicdesk.config import Settings
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.runtime import get_session
from clinicdesk.core.tenancy import clear_scope
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.conftest import make_settings
from tests.support.identity import api_as, browser_as, client_for, create_user
from tests.support.redis import ThrowawayRedis, start_throwaway_redis

AppFactory = Callable[..., Awaitable[FastAPI]]
DEFAULTS = {
    name: field.default
    for name, field in Settings.model_fields.items()
    if name.startswith("rate_limit_")
}


@pytest.fixture(scope="module")
def redis_server() -> Iterator[ThrowawayRedis]:
    server = start_throwaway_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def make_app(
    tmp_path: Path, database_url: str, owner_url: str, session: AsyncSession
) -> AsyncIterator[AppFactory]:
    """Apps with the given limits (the suite's own are raised), joined to the test's
    transaction like the ``app`` fixture."""
    built: list[FastAPI] = []

    async def build(**limits: object) -> FastAPI:
        settings = make_settings(
            tmp_path, database_url=database_url, database_owner_url=owner_url, **limits
        )
        application = create_app(settings, configure_logs=False)

        async def test_session() -> AsyncIterator[AsyncSession]:
            await clear_scope(session)
            async with unit_of_work(session):
                yield session

        application.dependency_overrides[get_session] = test_session
        built.append(application)
        return application

    yield build
    for application in built:
        await application.state.identity.limiter.close()  # the lifespan does, when run
        await application.state.runtime.db.dispose()


async def test_the_default_limits_refuse_a_search_flood_with_429(
    make_app: AppFactory, session: AsyncSession, clinic: Organization
) -> None:
    app = await make_app(**DEFAULTS)
    api = await api_as(app, session, await create_user(session, clinic, Role.RECEPTIONIST))
    allowed = int(DEFAULTS["rate_limit_search"].split("/")[0])
    statuses = [(await api.get("/api/v1/patients", params={"q": "smith"})).status_code]
    for _ in range(allowed):
        statuses.append((await api.get("/api/v1/patients", params={"q": "smith"})).status_code)
    assert statuses[:allowed] == [200] * allowed
    refused = await api.get("/api/v1/patients", params={"q": "smith"})
    assert statuses[allowed] == 429
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert "Too many requests" in refused.json()["detail"]
    # Other work of the same caller is a class of its own: still answered.
    assert (await api.get("/api/v1/me")).status_code == 200
    await api.aclose()


async def test_pages_get_a_readable_429_and_probes_and_static_files_are_never_throttled(
    make_app: AppFactory, session: AsyncSession, clinic: Organization
) -> None:
    app = await make_app(rate_limit_general="3/minute", rate_limit_address_factor=1)
    browser = await browser_as(app, session, await create_user(session, clinic, Role.DOCTOR))
    answers = [await browser.get("/", headers={"accept": "text/html"}) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429
    assert answers[3].headers["content-type"].startswith("text/html")
    assert "Too many requests" in answers[3].text
    assert answers[3].headers["retry-after"]
    for path in ("/health", "/health/ready", "/static/app.css"):
        for _ in range(5):
            assert (await browser.get(path)).status_code == 200, path
    await browser.aclose()


async def test_callers_not_signed_in_are_counted_by_address(make_app: AppFactory) -> None:
    app = await make_app(rate_limit_general="2/minute", rate_limit_address_factor=2)
    async with client_for(app) as anonymous:
        answers = [(await anonymous.get("/login")).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]


async def test_limits_are_shared_by_processes_through_redis(
    make_app: AppFactory,
    session: AsyncSession,
    clinic: Organization,
    redis_server: ThrowawayRedis,
) -> None:
    # Two app instances stand for two worker processes; db 3 is this test's own.
    limits = {"rate_limit_general": "4/minute", "redis_url": redis_server.url(3)}
    first, second = await make_app(**limits), await make_app(**limits)
    user = await create_user(session, clinic, Role.DOCTOR)
    one = await api_as(first, session, user)
    token = one.headers["authorization"]
    two = client_for(second, authorization=token)
    answers = [(await c.get("/api/v1/me")).status_code for c in (one, two, one, two, one)]
    assert answers == [200, 200, 200, 200, 429]
    await one.aclose()
    await two.aclose()


@pytest.mark.parametrize(
    ("method", "path", "limit_class"),
    [
        ("GET", "/api/v1/patients", "search"),
        ("GET", "/patients", "search"),
        ("GET", "/api/v1/audit-events", "search"),
        ("POST", "/api/v1/patients", "general"),
        ("GET", "/api/v1/audit-events/export.csv", "export"),
        ("GET", "/admin/audit/export.csv", "export"),
        ("POST", "/api/v1/auth/password-reset", "mail"),
        ("POST", "/password/forgot", "mail"),
        ("POST", "/api/v1/users", "mail"),
        ("POST", "/patients/0b1c/portal-invitation", "mail"),
        ("POST", "/api/v1/patients/0b1c/portal-invitation", "mail"),
        ("POST", "/account/verify-email", "mail"),
        ("GET", "/api/v1/patients/0b1c", "general"),
    ],
)
def test_each_request_has_its_class(method: str, path: str, limit_class: str) -> None:
    rules = throttle_rules(Settings(_env_file=None, **DEFAULTS))
    assert rules.class_of(method, path) == limit_class


def test_a_mistyped_limit_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a rate limit"):
        make_settings(tmp_path, rate_limit_search="lots")
