"""E-mailing an issued invoice to the patient, as a PDF attachment, through the job queue.

The request checks what it can (an issued invoice, a patient open to the sender, an
address on the record), queues the job in its own transaction and audits the request;
the job renders the PDF and hands the message to the mail transport after the commit.
The message is written in the organization's language, like the PDF it carries.
A delivery failure is retried with backoff by the job runner (``core.jobs``); a message
the transport refuses outright (a malformed address) ends the job at once.

At least once: a worker that dies after the server took the message and before the job
was marked done sends it again on the retry (the patient gets the invoice twice).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import DocumentNotSent
from clinicdesk.billing.service.documents import (
    InvoiceDocument,
    invoice_filename,
    invoice_pdf,
    issued_invoice_document,
)
from clinicdesk.billing.service.invoices import get_invoice
from clinicdesk.billing.vocabulary import InvoiceStatus
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.jobs import JobKind, PermanentJobError, enqueue
from clinicdesk.core.mail import Attachment, MailSender, OutgoingMail
from clinicdesk.patients import public as patients

log = structlog.get_logger(__name__)


class InvoiceEmail(BaseModel):
    invoice_id: uuid.UUID
    requested_by: uuid.UUID | None = None


INVOICE_EMAIL = JobKind("billing.invoice_email", InvoiceEmail, max_attempts=10)


@dataclass(frozen=True, slots=True)
class EmailQueued:
    invoice_id: uuid.UUID
    job_id: uuid.UUID


async def email_invoice(
    session: AsyncSession, *, actor: Actor, invoice_id: uuid.UUID
) -> EmailQueued:
    """Queue the invoice's e-mail to the patient. Refused (409) for a draft, which has
    no number and is not owed, and for a patient with no e-mail address on record."""
    found = await get_invoice(session, invoice_id, actor=actor)
    invoice = found.invoice
    if invoice.status == InvoiceStatus.DRAFT:
        raise DocumentNotSent("A draft is not an invoice yet: issue it before e-mailing it.")
    patient = await patients.get_patient(
        session, invoice.patient_id, actor=actor, follow_merge=False
    )
    if not patient.email:
        raise DocumentNotSent(
            "The patient has no e-mail address on record: add one to their details, "
            "or print the invoice."
        )
    job_id = await enqueue(
        session, INVOICE_EMAIL, InvoiceEmail(invoice_id=invoice.id, requested_by=actor.user_id)
    )
    assert job_id is not None  # noqa: S101 - no dedupe key, so always added
    await audit.record(
        session,
        action="invoice.email_queued",
        actor=actor,
        resource_type="invoice",
        resource_id=invoice.id,
        patient_id=invoice.patient_id,
        details={"job_id": str(job_id), "number": invoice.number},
    )
    return EmailQueued(invoice_id=invoice.id, job_id=job_id)


def invoice_mail(
    document: InvoiceDocument, pdf: bytes, *, to: str, message_key: str | None = None
) -> OutgoingMail:
    """The message in the organization's language, as its PDF (``kernel.document_words``)."""
    invoice, head, words = document.invoice, document.head, document.head.words
    number = invoice.number or ""
    text = "\n\n".join(
        (
            words["mail_greeting"].format(name=document.patient.name),
            words["mail_attached"].format(
                number=number, day=head.printed_day(invoice.issue_date), clinic=head.clinic
            ),
            words["mail_total"].format(amount=head.money(invoice.total, invoice.currency))
            + "\n"
            + words["mail_due"].format(amount=head.money(invoice.amount_due, invoice.currency)),
            words["mail_question"],
            head.clinic,
        )
    )
    return OutgoingMail(
        to=to,
        subject=words["mail_subject"].format(number=number, clinic=head.clinic),
        text=text + "\n",
        attachments=(Attachment(invoice_filename(invoice), "application/pdf", pdf),),
        message_key=message_key,
    )


async def send_invoice_email(
    session: AsyncSession,
    *,
    mailer: MailSender,
    payload: InvoiceEmail,
    message_key: str | None = None,
) -> None:
    """The job's work: render the invoice as it stands and mail it to the address on the
    patient's record now (an address changed since the request is the one used). A
    patient whose address was removed meanwhile gets nothing, and the job ends."""
    document = await issued_invoice_document(session, payload.invoice_id, actor=SYSTEM)
    if document.patient.email is None:
        raise PermanentJobError("the patient no longer has an e-mail address")
    mail = invoice_mail(
        document, await invoice_pdf(document), to=document.patient.email, message_key=message_key
    )
    try:
        await mailer.send(mail)
    except ValueError as error:  # a malformed message: no retry will mend it
        raise PermanentJobError(str(error)) from error
    await audit.record(
        session,
        action="invoice.emailed",
        actor=SYSTEM,
        organization_id=document.invoice.organization_id,
        resource_type="invoice",
        resource_id=document.invoice.id,
        patient_id=document.invoice.patient_id,
        details={"number": document.invoice.number},
    )
    log.info("billing.invoice_emailed", invoice_id=str(document.invoice.id))
