"""Mail goes out through the outbox: ``send_mail`` enqueues, the ``mail.send`` job sends.

Nothing is sent fire-and-forget: a message is queued in the transaction that decided to
send it (a rollback sends nothing), a failed delivery is retried with backoff, and after
the last attempt the job is dead and visible to the organization's administrators.
The message (recipient, sign-in links, patient data) is stored encrypted in the job's
payload and wiped once sent.

At least once: a worker that dies between handing the message to the server and marking
the job done sends it again when the job is retried.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.jobs.enqueue import enqueue
from clinicdesk.core.jobs.registry import JobContext, JobKind, JobRegistry
from clinicdesk.core.jobs.runner import PermanentJobError
from clinicdesk.core.mail import MailSender, OutgoingMail


class MailPayload(BaseModel):
    to: str = Field(max_length=320)
    subject: str = Field(max_length=1000)
    text: str
    html: str | None = None


MAIL_SEND = JobKind("mail.send", MailPayload, max_attempts=10)


async def send_mail(
    session: AsyncSession, mail: OutgoingMail, *, organization_id: uuid.UUID | None = None
) -> None:
    """Queue ``mail`` in the caller's transaction; it is sent after the commit."""
    payload = MailPayload(to=mail.to, subject=mail.subject, text=mail.text, html=mail.html)
    await enqueue(session, MAIL_SEND, payload, organization_id=organization_id)


def register_mail(registry: JobRegistry, mailer: MailSender) -> None:
    """The ``mail.send`` handler, delivering through ``mailer``."""

    async def deliver(context: JobContext, payload: MailPayload) -> None:
        mail = OutgoingMail(
            to=payload.to,
            subject=payload.subject,
            text=payload.text,
            html=payload.html,
            message_key=str(context.job_id),  # each retry of the job: the same Message-ID
        )
        try:
            await mailer.send(mail)
        except ValueError as error:  # a malformed message: no retry will mend it
            raise PermanentJobError(str(error)) from error

    registry.register(MAIL_SEND, deliver)
