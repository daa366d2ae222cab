"""Background jobs of billing: e-mailing an invoice as PDF."""

from __future__ import annotations

from clinicdesk.billing.service import document_mail
from clinicdesk.core.jobs import JobContext, JobRegistry
from clinicdesk.core.mail import MailSender


def register_billing_jobs(registry: JobRegistry, *, mailer: MailSender) -> None:
    """``billing.invoice_email``: the PDF is rendered in the job and sent through
    ``mailer`` directly (an attachment does not ride in the ``mail.send`` payload)."""

    async def send_invoice(context: JobContext, payload: document_mail.InvoiceEmail) -> None:
        await document_mail.send_invoice_email(
            context.session,
            mailer=mailer,
            payload=payload,
            message_key=str(context.job_id),  # a retried job's copy: the same Message-ID
        )

    registry.register(document_mail.INVOICE_EMAIL, send_invoice)
