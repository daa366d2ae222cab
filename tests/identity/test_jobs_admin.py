"""Failed mail is retried, then visible to the organization's admins, who retry it from
the page or the API (audited); other organizations' jobs stay out of sight."""

from __future__ import annotations

import re

from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.jobs import Job, JobRegistry, JobStatus
from clinicdesk.core.jobs.mail import MAIL_SEND, register_mail, send_mail
from clinicdesk.core.mail import MailDeliveryError, OutgoingMail
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.identity.test_recovery import read_mailbox
from tests.support.identity import SignIn, create_org, create_user
from tests.support.jobs import run_app_jobs, run_jobs_in


class DownMailServer:
    def __init__(self) -> None:
        self.tries = 0

    async def send(self, message: OutgoingMail) -> None:
        self.tries += 1
        raise MailDeliveryError(
            f"mail delivery via smtp.example:587 failed: 451 <{message.to}> try later"
        )


async def test_failed_mail_is_retried_then_dead_then_an_admin_retries_it(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    sign_in_web: SignIn,
) -> None:
    admin = await create_user(session, clinic, Role.ADMIN)
    admin_id = admin.id
    clinic_id = clinic.id
    api = await sign_in_api(admin)
    invited = await api.post(
        "/api/v1/users",
        json={"email": "nora@example.org", "full_name": "Nora Nurse", "roles": ["nurse"]},
    )
    assert invited.status_code == 201
    down = DownMailServer()
    failing = JobRegistry()
    register_mail(failing, down)
    db = app.state.runtime.db
    for _attempt in range(MAIL_SEND.max_attempts):
        assert await run_jobs_in(session, db, failing) == 1
        await scope_to_tenant(session, clinic_id)
        await session.execute(update(Job).values(run_at=utcnow()))  # skip the backoff
        await session.commit()
    assert down.tries == MAIL_SEND.max_attempts
    assert read_mailbox(app) == []

    dead = (await api.get("/api/v1/jobs", params={"status": "dead"})).json()["items"]
    assert len(dead) == 1
    job = dead[0]
    assert (job["kind"], job["status"], job["attempts"]) == ("mail.send", "dead", 10)
    assert job["last_error"] == (
        "MailDeliveryError: mail delivery via smtp.example:587 failed: 451 <<address>> try later"
    )
    assert "payload" not in job and "nora" not in str(job)

    browser = await sign_in_web(admin)
    page = await browser.get("/admin/jobs")
    assert page.status_code == 200
    assert "mail.send" in page.text and "10 of 10" in page.text
    assert f'action="/admin/jobs/{job["id"]}/retry"' in page.text
    assert "nora@example.org" not in page.text

    retried = await api.post(f"/api/v1/jobs/{job['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued"
    again = await api.post(f"/api/v1/jobs/{job['id']}/retry")
    assert again.status_code == 409

    assert await run_app_jobs(app, session) == 1  # the real mail sender now
    (body,) = read_mailbox(app)
    assert "/invitations/accept?token=" in body
    await scope_to_tenant(session, clinic_id)
    audited = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "job.retried"))
    ).all()
    assert [(e.resource_id, e.actor_user_id, e.details) for e in audited] == [
        (job["id"], admin_id, {"kind": "mail.send"})
    ]


async def test_the_retry_button_queues_a_dead_job_again(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    admin = await create_user(session, clinic, Role.ADMIN)
    await scope_to_tenant(session, clinic.id)
    await send_mail(session, OutgoingMail(to="x@example.org", subject="Hi", text="Hello"))
    job = await session.scalar(select(Job))
    assert job is not None
    job.status = JobStatus.DEAD
    job.attempts = job.max_attempts
    await session.commit()

    browser = await sign_in_web(admin)
    page = await browser.get("/admin/jobs")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = await browser.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": csrf})
    assert done.status_code == 303
    after = await browser.get("/admin/jobs")
    assert "is queued again" in after.text
    assert "No failed jobs" in after.text
    twice = await browser.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": csrf})
    assert twice.status_code == 303
    assert "Only failed (dead) jobs can be retried" in (await browser.get("/admin/jobs")).text

    other = await create_org(session, "Elsewhere", mfa_required_for_admins=False)
    other_admin = await create_user(session, other, Role.ADMIN)
    elsewhere = await sign_in_web(other_admin)
    assert (await elsewhere.post(f"/admin/jobs/{job.id}/retry")).status_code == 404
    assert "mail.send" not in (await elsewhere.get("/admin/jobs")).text
