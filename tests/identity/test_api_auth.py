"""The API's sign-in tokens, and what ends a user's access at once."""

from __future__ import annotations

import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import utcnow
from clinicdesk.identity.models import Location, Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import mfa
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import PASSWORD, SignIn, client_for, create_user


async def token(
    app: FastAPI, email: str, password: str = PASSWORD, **extra: str
) -> dict[str, object]:
    async with client_for(app) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": password, **extra}
        )
    return {"status": response.status_code, **response.json()}


async def me(app: FastAPI, access_token: object) -> int:
    async with client_for(app, authorization=f"Bearer {access_token}") as client:
        return (await client.get("/api/v1/me")).status_code


@pytest.fixture
async def doctor(session: AsyncSession, clinic: Organization) -> User:
    return await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)


async def test_password_grant_issues_tokens(app: FastAPI, doctor: User) -> None:
    issued = await token(app, doctor.email)
    assert issued["status"] == 200
    assert issued["token_type"] == "bearer"
    assert issued["expires_in"] == 15 * 60
    assert await me(app, issued["access_token"]) == 200


async def test_bad_credentials_are_a_generic_401(app: FastAPI, doctor: User) -> None:
    wrong = await token(app, doctor.email, "wrong password here")
    unknown = await token(app, "ghost@example.org", "wrong password here")
    assert wrong["status"] == unknown["status"] == 401
    assert wrong["detail"] == unknown["detail"]
    assert await me(app, "not-a-token") == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(app: FastAPI, doctor: User) -> None:
    first = await token(app, doctor.email)
    async with client_for(app) as client:
        rotated = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert await me(app, second["access_token"]) == 200

        replay = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert replay.status_code == 401
    # The stolen token's family is gone: the legitimate holder's tokens stop too.
    assert await me(app, second["access_token"]) == 401
    async with client_for(app) as client:
        again = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
    assert again.status_code == 401


async def test_logout_revokes_the_tokens(app: FastAPI, doctor: User) -> None:
    issued = await token(app, doctor.email)
    async with client_for(app, authorization=f"Bearer {issued['access_token']}") as client:
        assert (await client.post("/api/v1/auth/logout")).status_code == 204
    assert await me(app, issued["access_token"]) == 401


async def test_mfa_accounts_send_a_code_with_the_password(
    app: FastAPI, doctor: User, session: AsyncSession
) -> None:
    enrolment = await mfa.begin_enrolment(session, user=doctor)
    totp = pyotp.TOTP(enrolment.secret)
    await mfa.confirm_enrolment(session, user=doctor, actor=actor_for(doctor), code=totp.now())
    await session.commit()
    missing = await token(app, doctor.email)
    assert missing["status"] == 401
    assert missing["type"] == "urn:clinicdesk:problem:mfa-required"
    next_code = totp.at(utcnow().timestamp() + 30)
    assert (await token(app, doctor.email, totp=next_code))["status"] == 200
    assert (await token(app, doctor.email, totp=next_code))["status"] == 401  # used once


async def test_deactivation_ends_sessions_and_tokens_at_once(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    doctor: User,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    # Failed requests roll back the shared test session and expire its objects.
    email, doctor_id = doctor.email, doctor.id
    browser = await sign_in_web(doctor)
    api = await sign_in_api(doctor)
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    assert (await browser.get("/account")).status_code == 200
    assert (await api.get("/api/v1/me")).status_code == 200
    response = await admin.post(f"/api/v1/users/{doctor_id}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await browser.get("/account")).status_code == 401
    assert (await api.get("/api/v1/me")).status_code == 401
    assert (await token(app, email))["status"] == 401
    reactivated = await admin.post(f"/api/v1/users/{doctor_id}/reactivate")
    assert reactivated.json()["is_active"] is True
    assert (await token(app, email))["status"] == 200


async def test_removing_a_role_ends_sessions_adding_one_does_not(
    session: AsyncSession, clinic: Organization, doctor: User, sign_in_api: SignIn
) -> None:
    doctor_id = doctor.id
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    api = await sign_in_api(doctor)
    added = await admin.put(
        f"/api/v1/users/{doctor.id}/roles",
        json={"roles": ["doctor", "nurse"]},
        headers={"If-Match": 'W/"1"'},
    )
    assert added.status_code == 200
    assert (await api.get("/api/v1/me")).status_code == 200
    removed = await admin.put(
        f"/api/v1/users/{doctor_id}/roles", json={"roles": ["nurse"]}, headers={"If-Match": "*"}
    )
    assert removed.json()["roles"] == ["nurse"]
    assert (await api.get("/api/v1/me")).status_code == 401


async def test_the_last_admin_cannot_be_removed(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin_user = await create_user(session, clinic, Role.ADMIN)
    admin_id, other_id = admin_user.id, (await create_user(session, clinic, Role.DOCTOR)).id
    admin = await sign_in_api(admin_user)
    assert (await admin.post(f"/api/v1/users/{admin_id}/deactivate")).status_code == 403
    demoted = await admin.put(
        f"/api/v1/users/{admin_id}/roles", json={"roles": ["doctor"]}, headers={"If-Match": "*"}
    )
    assert demoted.status_code == 409
    assert "last active admin" in demoted.json()["detail"]
    assert (
        await admin.put(
            f"/api/v1/users/{other_id}/roles", json={"roles": ["admin"]}, headers={"If-Match": "*"}
        )
    ).status_code == 200


async def test_stale_versions_get_412(
    session: AsyncSession, clinic: Organization, doctor: User, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    read = await admin.get(f"/api/v1/users/{doctor.id}")
    etag = read.headers["etag"]
    first = await admin.put(
        f"/api/v1/users/{doctor.id}/roles", json={"roles": ["nurse"]}, headers={"if-match": etag}
    )
    assert first.status_code == 200
    stale = await admin.put(
        f"/api/v1/users/{doctor.id}/roles", json={"roles": ["billing"]}, headers={"if-match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == first.json()["version"]


async def test_client_sent_organization_id_is_ignored(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    other = "00000000-0000-0000-0000-000000000042"
    created = await admin.post(
        "/api/v1/locations", json={"name": "Annex", "organization_id": other}
    )
    assert created.status_code == 201
    location = (
        await session.execute(select(Location).where(Location.name == "Annex"))
    ).scalar_one()
    assert location.organization_id == clinic.id


async def test_own_sessions_can_be_listed_and_ended(
    session: AsyncSession, doctor: User, sign_in_web: SignIn, sign_in_api: SignIn
) -> None:
    laptop = await sign_in_web(doctor)
    await sign_in_web(doctor)  # a second browser
    api = await sign_in_api(doctor)
    listed = (await api.get("/api/v1/me/sessions")).json()
    assert len(listed) == 2
    for item in listed:
        assert (await api.delete(f"/api/v1/me/sessions/{item['id']}")).status_code == 204
    assert (await laptop.get("/account")).status_code == 401
