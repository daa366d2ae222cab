"""Password policy, password reset, invitations and e-mail verification by link."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import job_registry
from clinicdesk.config import Settings
from clinicdesk.core.mail import FileMailSender
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity import passwords
from clinicdesk.identity.errors import PasswordRejected
from clinicdesk.identity.models import OneTimeToken, Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import mfa
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import PASSWORD, SignIn, client_for, create_user
from tests.support.jobs import run_app_jobs

NEW_PASSWORD = "a whole new passphrase 2026"
LINK = re.compile(r"(https?://\S+\?token=([\w-]+))")


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("short-pw", "at least 12"),
        ("password1234", "commonly used password"),
        ("Qwerty123456", "commonly used password"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("x" * 257, "at most 256"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(candidate: str, reason: str) -> None:
    with pytest.raises(PasswordRejected, match=reason):
        passwords.check_policy(candidate)


def test_own_email_is_refused() -> None:
    with pytest.raises(PasswordRejected, match="e-mail"):
        passwords.check_policy("dana.reyes@clinic.org", email="dana.reyes@clinic.org")


async def test_long_unicode_passwords_work_and_are_not_truncated() -> None:
    long_password = "Grüße aus der Praxis — ☕ " * 10  # 250 characters
    passwords.check_policy(long_password)
    hashed = await passwords.hash_password(long_password)
    assert hashed.startswith("$argon2id$")
    assert await passwords.verify_password(hashed, long_password)
    assert not await passwords.verify_password(hashed, long_password[:-1])
    # NFKC: the same text typed as composed or decomposed characters matches.
    assert await passwords.verify_password(hashed, long_password.replace("ü", "u\u0308"))


async def test_an_unknown_account_costs_a_real_hash_check() -> None:
    assert not await passwords.verify_password(None, "anything at all here")


async def mailbox(app: FastAPI, session: AsyncSession) -> list[str]:
    """The plain-text bodies of the messages the app wrote to its mail directory, once
    the mail jobs that are due have run."""
    await run_app_jobs(app, session)
    return read_mailbox(app)


def read_mailbox(app: FastAPI) -> list[str]:
    sender = app.state.identity.mailer
    assert isinstance(sender, FileMailSender)
    bodies = []
    for path in sender.list_messages():
        message = message_from_bytes(Path(path).read_bytes(), policy=policy.default)
        part = message.get_body(("plain",))
        assert part is not None
        bodies.append(str(part.get_content()))
    return bodies


@pytest.fixture
def public_app(app: FastAPI, settings: Settings) -> FastAPI:
    public = settings.model_copy(update={"public_url": "https://clinic.example.org"})
    app.state.identity = replace(app.state.identity, base_url=public.base_url)
    # Reset links are made by a job, which takes the address from the settings.
    app.state.jobs = job_registry(public, mailer=app.state.identity.mailer)
    return app


async def test_reset_link_uses_the_configured_address_not_the_host_header(
    public_app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)
    email = doctor.email
    async with client_for(public_app, host="evil.example") as client:
        asked = await client.post("/api/v1/auth/password-reset", json={"email": email})
        unknown = await client.post(
            "/api/v1/auth/password-reset", json={"email": "nobody@example.org"}
        )
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()
    (body,) = await mailbox(public_app, session)  # one message: the unknown address gets none
    url, token = LINK.search(body).groups()  # type: ignore[union-attr]
    assert url.startswith("https://clinic.example.org/password/reset?token=")
    assert "evil.example" not in body
    assert "30 minutes" in body

    async with client_for(public_app) as client:
        done = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": NEW_PASSWORD},
        )
        assert done.status_code == 204
        again = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": NEW_PASSWORD + "!"},
        )
        assert again.status_code == 400
        signed_in = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": NEW_PASSWORD}
        )
        assert signed_in.status_code == 200


async def test_an_expired_reset_link_is_refused(
    public_app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)
    async with client_for(public_app) as client:
        await client.post("/api/v1/auth/password-reset", json={"email": doctor.email})
        _url, token = LINK.search((await mailbox(public_app, session))[0]).groups()  # type: ignore[union-attr]
        await scope_to_tenant(session, clinic.id)
        link = (await session.execute(select(OneTimeToken))).scalar_one()
        assert link.expires_at - link.created_at <= timedelta(minutes=30)
        link.expires_at = link.created_at
        await session.commit()
        response = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": NEW_PASSWORD},
        )
    assert response.status_code == 400
    assert "expired" in response.json()["detail"]


async def test_invited_staff_choose_a_password_and_sign_in(
    public_app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    invited = await admin.post(
        "/api/v1/users",
        json={"email": "Nora.Nurse@Example.org", "full_name": "Nora Nurse", "roles": ["nurse"]},
    )
    assert invited.status_code == 201
    assert invited.json()["email"] == "nora.nurse@example.org"
    duplicate = await admin.post(
        "/api/v1/users",
        json={"email": "nora.nurse@example.org", "full_name": "Nora", "roles": ["nurse"]},
    )
    assert duplicate.status_code == 409
    _url, token = LINK.search((await mailbox(public_app, session))[0]).groups()  # type: ignore[union-attr]

    async with client_for(public_app, accept="text/html") as browser:
        page = await browser.get(f"/invitations/accept?token={token}")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        weak = await browser.post(
            "/invitations/accept",
            data={
                "token": token,
                "password": "password1234",
                "confirm": "password1234",
                "csrf_token": csrf,
            },
        )
        assert weak.status_code == 400
        assert "commonly used password" in weak.text
        accepted = await browser.post(
            "/invitations/accept",
            data={
                "token": token,
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
                "csrf_token": csrf,
            },
        )
        assert accepted.status_code == 303
    async with client_for(public_app) as client:
        signed_in = await client.post(
            "/api/v1/auth/token",
            data={"username": "nora.nurse@example.org", "password": NEW_PASSWORD},
        )
    assert signed_in.status_code == 200


async def test_email_verification_link(
    public_app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    user = await create_user(session, clinic, Role.BILLING)
    api = await sign_in_api(user)
    assert (await api.post("/api/v1/me/email-verification")).status_code == 202
    _url, token = LINK.search((await mailbox(public_app, session))[0]).groups()  # type: ignore[union-attr]
    async with client_for(public_app, accept="text/html") as browser:
        confirmed = await browser.get(f"/verify-email?token={token}")
        assert confirmed.status_code == 200
        assert "confirmed" in confirmed.text
        assert (await browser.get(f"/verify-email?token={token}")).status_code == 400
    assert (await api.get("/api/v1/me")).json()["email_verified_at"] is not None


async def test_change_password_needs_the_current_one(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    user = await create_user(session, clinic, Role.NURSE, password=PASSWORD)
    api = await sign_in_api(user)
    wrong = await api.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 401
    changed = await api.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204
    assert (await api.get("/api/v1/me")).status_code == 401  # signed out everywhere


async def test_reset_never_bypasses_the_second_factor(
    public_app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    user = await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)
    email = user.email
    enrolment = await mfa.begin_enrolment(session, user=user)
    await mfa.confirm_enrolment(
        session, user=user, actor=actor_for(user), code=pyotp.TOTP(enrolment.secret).now()
    )
    await session.commit()
    async with client_for(public_app) as client:
        await client.post("/api/v1/auth/password-reset", json={"email": email})
        _url, token = LINK.search((await mailbox(public_app, session))[0]).groups()  # type: ignore[union-attr]
        await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": NEW_PASSWORD},
        )
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": NEW_PASSWORD}
        )
    assert response.status_code == 401
    assert response.json()["type"] == "urn:clinicdesk:problem:mfa-required"
