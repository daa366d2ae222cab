"""E-mailing an invoice, on SQLite and PostgreSQL: the request is refused for a draft and
for a patient without an address, queues one job per Idempotency-Key, and the job sends
the PDF as an attachment to a real SMTP server (aiosmtpd); all on the audit trail."""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import job_registry
from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.jobs import Job, JobStatus
from clinicdesk.core.mail import Attachment, OutgoingMail, SmtpMailSender, build_message
from clinicdesk.identity.models import Organization
from clinicdesk.patients.models import Patient
from tests.billing.conftest import draft, issue
from tests.core.test_mail import Inbox, SmtpServer, start_smtp_server
from tests.support.jobs import run_jobs_in
from tests.support.queue import QueueClinic


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server, stop = start_smtp_server(Inbox())
    try:
        yield server
    finally:
        stop()


def test_a_message_carries_its_attachments_after_the_body() -> None:
    mail = OutgoingMail(
        to="ann@example.org",
        subject="Invoice",
        text="Attached.",
        attachments=(Attachment("invoice-1.pdf", "application/pdf", b"%PDF-1.7 x"),),
    )
    message = build_message(mail, "clinic@example.org")
    parts = list(message.iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("invoice-1.pdf", "application/pdf")
    ]
    assert parts[0].get_content() == b"%PDF-1.7 x"
    assert message.get_body(("plain",)).get_content().strip() == "Attached."  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("a\r\nBcc: x@example.org", "application/pdf", b""),
        Attachment("a.pdf", "pdf", b""),
    ],
)
def test_a_malformed_attachment_is_refused(attachment: Attachment) -> None:
    mail = OutgoingMail(to="a@example.org", subject="s", text="t", attachments=(attachment,))
    with pytest.raises(ValueError, match=r"file name|content type"):
        build_message(mail, "clinic@example.org")


async def test_an_issued_invoice_is_emailed_to_the_patient_with_its_pdf(
    app: FastAPI,
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    smtp: SmtpServer,
) -> None:
    patient = await session.get_one(Patient, qc.patient_ids[0])
    patient.email = None
    await session.commit()
    full_name = patient.full_name
    organization = await session.get_one(Organization, qc.organization_id)
    clinic_name = organization.name
    invoice = await draft(desk, qc.patient_ids[0], {"name": "Consultation", "unit_price": 4500})

    refused = await desk.post(f"/api/v1/invoices/{invoice['id']}/email")
    assert refused.status_code == 409
    assert "issue it before e-mailing it" in refused.json()["detail"]
    issued = await issue(desk, invoice)
    no_address = await desk.post(f"/api/v1/invoices/{invoice['id']}/email")
    assert no_address.status_code == 409
    assert "no e-mail address" in no_address.json()["detail"]

    patient = await session.get_one(Patient, qc.patient_ids[0])
    patient.email = "ann.patient@example.org"
    await session.commit()
    key = {"Idempotency-Key": "email-once"}
    queued = await desk.post(f"/api/v1/invoices/{invoice['id']}/email", headers=key)
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    again = await desk.post(f"/api/v1/invoices/{invoice['id']}/email", headers=key)
    assert again.status_code == 202
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["job_id"] == queued.json()["job_id"]
    jobs = list(await session.scalars(select(Job).where(Job.kind == "billing.invoice_email")))
    assert len(jobs) == 1  # the retry queued nothing more

    mailer = SmtpMailSender(smtp.url(), sender="clinic@example.org")
    registry = job_registry(app.state.runtime.settings, mailer=mailer)
    assert await run_jobs_in(session, app.state.runtime.db, registry) == 1

    assert len(smtp.inbox.envelopes) == 1
    envelope = smtp.inbox.envelopes[0]
    assert envelope.rcpt_tos == ["ann.patient@example.org"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == f"Invoice {issued['number']} from {clinic_name}"
    # A copy sent again by a retry of the job would carry the same Message-ID.
    assert message["Message-ID"] == f"<{queued.json()['job_id']}@example.org>"
    body = message.get_body(("plain",))
    assert body is not None and "Amount due: $45.00" in body.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"invoice-{issued['number']}.pdf"
    pdf = attachment.get_content()
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert issued["number"] in text and full_name in text and "$45.00" in text

    job = await session.get_one(Job, jobs[0].id)
    await session.refresh(job)
    assert job.status == JobStatus.SUCCEEDED
    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.resource_id == str(invoice["id"]),
                AuditEvent.action.in_(("invoice.email_queued", "invoice.emailed")),
            )
        )
    )
    assert actions == {"invoice.email_queued", "invoice.emailed"}


async def test_the_job_sends_nothing_once_the_address_is_gone(
    app: FastAPI,
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    smtp: SmtpServer,
) -> None:
    patient = await session.get_one(Patient, qc.patient_ids[1])
    patient.email = "bo@example.org"
    await session.commit()
    invoice = await issue(
        desk, await draft(desk, qc.patient_ids[1], {"name": "Visit", "unit_price": 100})
    )
    assert (await desk.post(f"/api/v1/invoices/{invoice['id']}/email")).status_code == 202
    patient = await session.get_one(Patient, qc.patient_ids[1])
    patient.email = None
    await session.commit()
    mailer = SmtpMailSender(smtp.url(), sender="clinic@example.org")
    registry = job_registry(app.state.runtime.settings, mailer=mailer)
    assert await run_jobs_in(session, app.state.runtime.db, registry) == 1
    assert smtp.inbox.envelopes == []
    job = await session.scalar(select(Job).where(Job.kind == "billing.invoice_email"))
    assert job is not None
    await session.refresh(job)
    assert job.status == JobStatus.DEAD
