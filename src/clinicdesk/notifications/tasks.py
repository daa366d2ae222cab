"""Background jobs and schedules of notifications, registered on the application's job
registry (``serve`` and ``clinicdesk worker`` build the same one)."""

from __future__ import annotations

from clinicdesk.core.jobs import JobContext, JobRegistry
from clinicdesk.notifications.channels import Senders, SendRefused
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service import delivery
from clinicdesk.notifications.service.planning import DELIVER, DeliverMessage


class DeliveryDeferred(Exception):
    """The message waits for another try (the job's backoff decides when)."""


def register_notification_jobs(registry: JobRegistry, *, senders: Senders) -> None:
    """Every job kind and schedule of notifications."""

    async def deliver(context: JobContext, payload: DeliverMessage) -> None:
        session = context.session
        claimed = await delivery.claim(session, payload.message_id, senders, job_id=context.job_id)
        if claimed is None:
            return
        message, interrupted = claimed
        outgoing = delivery.outgoing(message, senders)
        since = message.sending_at
        await session.commit()  # no transaction stays open while the provider answers
        sender = senders.for_channel(outgoing.channel)
        try:
            found = await sender.find_sent(outgoing, since) if interrupted and since else None
            provider_id = found or (await sender.send(outgoing)).provider_id
        except SendRefused as error:
            again = await session.get(Message, payload.message_id)
            assert again is not None  # noqa: S101 - claimed above, never deleted
            retry = await delivery.record_refused(
                session, again, error, last_attempt=context.attempt >= DELIVER.max_attempts
            )
            await session.commit()
            if retry:
                raise DeliveryDeferred(str(error)) from None
            return
        again = await session.get(Message, payload.message_id)
        assert again is not None  # noqa: S101
        await delivery.record_sent(session, again, provider_id)

    registry.register(DELIVER, deliver)
