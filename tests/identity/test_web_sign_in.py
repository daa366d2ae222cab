"""Signing in and out of the web UI: cookies, CSRF, timeouts, the second factor."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.models import Organization, User, WebSession
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import mfa
from clinicdesk.identity.service.common import actor_for
from tests.support.http import version_on
from tests.support.identity import PASSWORD, client_for, create_org, create_user

HTML = "text/html,application/xhtml+xml"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def login_form(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


async def post_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_url: str = "/"
) -> httpx.Response:
    token = await login_form(client)
    return await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_url},
    )


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, accept=HTML) as client:
        yield client


@pytest.fixture
async def doctor(session: AsyncSession, clinic: Organization) -> User:
    return await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)


async def test_sign_in_sets_a_safe_cookie_and_opens_the_app(
    browser: httpx.AsyncClient, doctor: User
) -> None:
    response = await post_login(browser, doctor.email, next_url="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "clinicdesk_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age" not in cookie  # a browser-session cookie; the server enforces the ends
    home = await browser.get("/")
    assert home.status_code == 200
    assert "Test doctor" in home.text


async def test_each_sign_in_gets_a_new_session_id(app: FastAPI, doctor: User) -> None:
    tokens = set()
    for _ in range(2):
        async with client_for(app, accept=HTML) as client:
            await post_login(client, doctor.email)
            tokens.add(client.cookies.get("clinicdesk_session"))
    assert len(tokens) == 2
    assert None not in tokens


async def test_https_sessions_use_the_host_prefix_and_secure(app: FastAPI, doctor: User) -> None:
    app.state.identity = replace(app.state.identity, secure_cookies=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://clinic.example") as c:
        response = await post_login(c, doctor.email)
    cookie = next(x for x in response.headers.get_list("set-cookie") if "session=" in x)
    assert cookie.startswith("__Host-clinicdesk_session=")
    assert "Secure" in cookie


async def test_a_login_without_the_form_token_is_refused(
    browser: httpx.AsyncClient, doctor: User
) -> None:
    response = await browser.post("/login", data={"email": doctor.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "clinicdesk_session" not in response.headers.get("set-cookie", "")


async def test_wrong_password_and_unknown_account_get_the_same_answer(
    browser: httpx.AsyncClient, doctor: User, session: AsyncSession
) -> None:
    wrong = await post_login(browser, doctor.email, "not the right password")
    unknown = await post_login(browser, "nobody@example.org", "not the right password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is not right."
    assert message in wrong.text
    assert message in unknown.text
    # The known account's failure is its organization's; the unknown one the installation's.
    await scope_to_tenant(session, doctor.organization_id)
    failed = select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
    failures = list((await session.execute(failed)).scalars())
    await use_system_scope(session)
    failures += (
        (await session.execute(failed.where(AuditEvent.organization_id.is_(None)))).scalars().all()
    )
    assert len(failures) == 2
    assert {f.outcome for f in failures} == {"failure"}
    assert all("nobody@example.org" not in str(f.details) for f in failures)


async def test_state_changes_need_the_csrf_token(browser: httpx.AsyncClient, doctor: User) -> None:
    await post_login(browser, doctor.email)
    refused = await browser.post("/account", data={"full_name": "Mallory"})
    assert refused.status_code == 403
    cross_site = await browser.post(
        "/account",
        data={"full_name": "Mallory", "csrf_token": await login_form(browser, "/account")},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert cross_site.status_code == 403
    token = await login_form(browser, "/account")
    version = version_on((await browser.get("/account")).text)
    allowed = await browser.post(
        "/account", data={"full_name": "Dr. Renamed", "csrf_token": token, "version": version}
    )
    assert allowed.status_code == 303


async def test_logout_ends_the_session_on_the_server(
    browser: httpx.AsyncClient, doctor: User
) -> None:
    await post_login(browser, doctor.email)
    cookie = browser.cookies.get("clinicdesk_session")
    token = await login_form(browser, "/account")
    response = await browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    browser.cookies.set("clinicdesk_session", cookie or "")  # a copied cookie
    ended = await browser.get("/account")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/login?next=/account"


@pytest.mark.parametrize(
    ("field", "shift"),
    [("last_seen_at", timedelta(minutes=-61)), ("expires_at", timedelta(seconds=-1))],
)
async def test_idle_and_absolute_timeouts(
    browser: httpx.AsyncClient,
    doctor: User,
    session: AsyncSession,
    field: str,
    shift: timedelta,
) -> None:
    await post_login(browser, doctor.email)
    assert (await browser.get("/account")).status_code == 200
    await scope_to_tenant(session, doctor.organization_id)
    web_session = (
        await session.execute(select(WebSession).where(WebSession.user_id == doctor.id))
    ).scalar_one()
    if field == "last_seen_at":
        web_session.last_seen_at = web_session.last_seen_at + shift
    else:
        web_session.expires_at = web_session.created_at + shift
    await session.commit()
    response = await browser.get("/account")
    assert response.status_code == 303  # the browser is sent to the sign-in form
    assert response.headers["location"] == "/login?next=/account"


async def enable_mfa(session: AsyncSession, user: User) -> str:
    enrolment = await mfa.begin_enrolment(session, user=user)
    await mfa.confirm_enrolment(
        session, user=user, actor=actor_for(user), code=pyotp.TOTP(enrolment.secret).now()
    )
    await session.commit()
    return enrolment.secret


async def test_second_factor_is_asked_for_and_a_code_works_once(
    app: FastAPI, doctor: User, session: AsyncSession
) -> None:
    secret = await enable_mfa(session, doctor)
    # The enrolment used the current code; the next sign-in needs the next one.
    code = pyotp.TOTP(secret).at(pyotp.TOTP(secret).timecode(utcnow()) * 30 + 30)
    async with client_for(app, accept=HTML) as client:
        response = await post_login(client, doctor.email, next_url="/account")
        assert response.headers["location"] == "/login/mfa?next=/account"
        blocked = await client.get("/account")
        assert blocked.status_code == 303
        assert blocked.headers["location"].startswith("/login/mfa")
        token = await login_form(client, "/login/mfa")
        passed = await client.post(
            "/login/mfa", data={"code": code, "csrf_token": token, "next": "/account"}
        )
        assert passed.status_code == 303
        assert (await client.get("/account")).status_code == 200
    async with client_for(app, accept=HTML) as again:
        await post_login(again, doctor.email)
        token = await login_form(again, "/login/mfa")
        reused = await again.post("/login/mfa", data={"code": code, "csrf_token": token})
        assert reused.status_code == 401


async def test_a_recovery_code_signs_in_once(
    app: FastAPI, doctor: User, session: AsyncSession
) -> None:
    await mfa.begin_enrolment(session, user=doctor)
    secret = doctor.totp_secret
    assert secret is not None
    codes = await mfa.confirm_enrolment(
        session, user=doctor, actor=actor_for(doctor), code=pyotp.TOTP(secret).now()
    )
    await session.commit()
    for expected in (303, 401):
        async with client_for(app, accept=HTML) as client:
            await post_login(client, doctor.email)
            token = await login_form(client, "/login/mfa")
            response = await client.post("/login/mfa", data={"code": codes[0], "csrf_token": token})
            assert response.status_code == expected


async def test_an_admin_without_mfa_is_sent_to_enrol_first(
    app: FastAPI, session: AsyncSession
) -> None:
    strict = await create_org(session, "Strict Clinic")  # admins must use MFA (default)
    admin = await create_user(session, strict, Role.ADMIN, password=PASSWORD)
    async with client_for(app, accept=HTML) as client:
        await post_login(client, admin.email)
        response = await client.get("/admin/users")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/account/mfa")
        page = await client.get("/account/mfa")
        assert page.status_code == 200
        assert "Required:" in page.text


async def test_repeated_failures_are_throttled_with_retry_after(
    browser: httpx.AsyncClient, doctor: User, session: AsyncSession
) -> None:
    statuses = [
        (await post_login(browser, doctor.email, "wrong password, again")).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    throttled = await post_login(browser, doctor.email)  # even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 60
    await use_system_scope(session)
    locked = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.locked_out")))
        .scalars()
        .all()
    )
    assert locked
