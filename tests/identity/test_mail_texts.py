"""The e-mails name the clinic that sends them (never "Your clinic"), and their links lead
to the configured public address."""

from __future__ import annotations

import email
import email.policy
import json

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.jobs import Job
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import PASSWORD, SignIn, client_for, create_user
from tests.support.jobs import run_app_jobs
from tests.support.patients import patient_json, register_over_http


async def _mails(session: AsyncSession, clinic: Organization) -> list[dict[str, str]]:
    await scope_to_tenant(session, clinic.id)
    jobs = (await session.scalars(select(Job).where(Job.kind == "mail.send"))).all()
    return [json.loads(job.payload) for job in jobs]


def _link_of(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("http"))


async def test_portal_and_staff_invitations_name_the_clinic(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    config: IdentityConfig = app.state.identity
    admin = await create_user(session, clinic, Role.ADMIN, Role.RECEPTIONIST, password=PASSWORD)
    client = await sign_in_api(admin)
    patient = await register_over_http(client, **patient_json(email="ana@example.org"))
    invited = await client.post(f"/api/v1/patients/{patient['id']}/portal-invitation", json={})
    assert invited.status_code == 201, invited.text
    staff = await client.post(
        "/api/v1/users",
        json={"email": "new.nurse@example.org", "full_name": "Nia Nurse", "roles": ["nurse"]},
    )
    assert staff.status_code == 201, staff.text

    mails = {m["to"]: m for m in await _mails(session, clinic)}
    portal, colleague = mails["ana@example.org"], mails["new.nurse@example.org"]
    for mail in (portal, colleague):
        assert "Riverside" in mail["subject"]
        assert "Riverside" in mail["text"]
        assert "Your clinic" not in mail["text"]
        assert _link_of(mail["text"]).startswith(f"{config.base_url}/invitations/accept?token=")
    assert "Riverside invites you to its patient portal" in portal["text"]


async def test_password_reset_names_the_clinic(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR, password=PASSWORD)
    async with client_for(app) as client:
        asked = await client.post("/api/v1/auth/password-reset", json={"email": doctor.email})
    assert asked.status_code == 202
    await run_app_jobs(app, session)  # the reset job writes the mail, which is then sent
    outbox = app.state.runtime.settings.data_dir / "mail"
    (sent,) = [
        message
        for message in (
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in outbox.glob("*.eml")
        )
        if message["To"] == doctor.email
    ]
    assert sent["Subject"] == "Reset your password for Riverside"
    body = sent.get_body()
    assert body is not None
    assert "Riverside's ClinicDesk" in body.get_content()
