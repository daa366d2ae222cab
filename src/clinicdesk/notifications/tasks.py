"""Background jobs and schedules of notifications, registered on the application's job
registry (``serve`` and ``clinicdesk worker`` build the same one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from pydantic import BaseModel

from clinicdesk.core.jobs import JobContext, JobKind, JobRegistry, Schedule, enqueue
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity import public as identity
from clinicdesk.notifications.channels import Senders, SendRefused
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service import delivery, recalls, risk, turns
from clinicdesk.notifications.service.planning import DELIVER, DeliverMessage

log = structlog.get_logger(__name__)


class DeliveryDeferred(Exception):
    """The message waits for another try (the job's backoff decides when)."""


def register_notification_jobs(registry: JobRegistry, *, senders: Senders) -> None:
    """Every job kind and schedule of notifications."""

    async def deliver(context: JobContext, payload: DeliverMessage) -> None:
        session = context.session
        try:
            claimed = await delivery.claim(
                session, payload.message_id, senders, job_id=context.job_id
            )
        except delivery.StillSending:
            if context.attempt < DELIVER.max_attempts:
                raise  # the job's backoff brings it back after the hand-over
            await delivery.recheck_later(session, payload.message_id)
            return
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

    async def check_turns(context: JobContext, payload: turns.CheckTurns) -> None:
        await turns.check_turns(context.session, payload.location_id)

    registry.register(turns.CHECK_TURNS, check_turns)

    _register_no_show_jobs(registry)
    _register_recall_jobs(registry)


# --- no-show risk: nightly training and rescoring -----------------------------------------


class NoShowTrainAll(BaseModel):
    pass


class NoShowTrain(BaseModel):
    pass


NO_SHOW_TRAIN_ALL = JobKind("notifications.no_show.train_all", NoShowTrainAll, max_attempts=3)
NO_SHOW_TRAIN = JobKind("notifications.no_show.train", NoShowTrain, max_attempts=3)


async def each_organization(context: JobContext, kind: JobKind[Any], payload: BaseModel) -> None:
    """From a system job: one ``kind`` job per active organization, each enqueued in that
    organization's own scope (so one clinic's failure retries alone, and PostgreSQL's
    row-level security admits each job row: it is written while scoped to its
    organization)."""
    session = context.session
    for organization_id in await identity.active_organization_ids(session):
        await scope_to_tenant(session, organization_id)
        await enqueue(session, kind, payload, dedupe_key=f"{kind.name}:{organization_id}")
    await use_system_scope(session)


async def train_all_organizations(context: JobContext, payload: NoShowTrainAll) -> None:
    """A system job: a training job per active organization."""
    await each_organization(context, NO_SHOW_TRAIN, NoShowTrain())


async def train_organization(context: JobContext, payload: NoShowTrain) -> None:
    """Train the organization's model and rescore its upcoming booked appointments. Safe
    to run twice: a second run stores one more (equal) model row and the same scores."""
    model = await risk.train(context.session)
    scored = await risk.rescore_upcoming(context.session)
    log.info(
        "notifications.no_show.trained",
        organization_id=str(context.organization_id),
        kind=model.kind if model else None,
        samples=model.n_samples if model else 0,
        auc=model.auc if model else None,
        rescored=scored,
    )


def _register_no_show_jobs(registry: JobRegistry) -> None:
    registry.register(NO_SHOW_TRAIN_ALL, train_all_organizations)
    registry.register(NO_SHOW_TRAIN, train_organization)
    registry.schedule(
        Schedule(
            name="notifications.no_show.train",
            kind=NO_SHOW_TRAIN_ALL,
            payload=NoShowTrainAll(),
            every=timedelta(days=1),
            offset=timedelta(hours=2, minutes=40),  # nightly, 02:40 UTC
        )
    )


# --- recalls: the daily "time to book your check-up" ------------------------------------


class RecallsPlanAll(BaseModel):
    pass


class RecallsPlan(BaseModel):
    pass


RECALLS_PLAN_ALL = JobKind("notifications.recalls.plan_all", RecallsPlanAll, max_attempts=3)
RECALLS_PLAN = JobKind("notifications.recalls.plan", RecallsPlan, max_attempts=3)


async def plan_recalls_all_organizations(context: JobContext, payload: RecallsPlanAll) -> None:
    """A system job: a planning job per active organization."""
    await each_organization(context, RECALLS_PLAN, RecallsPlan())


async def plan_recalls_organization(context: JobContext, payload: RecallsPlan) -> None:
    """Safe to run twice: a recall with a message gets no second one."""
    planned = await recalls.plan_recall_messages(context.session)
    log.info(
        "notifications.recalls.planned",
        organization_id=str(context.organization_id),
        planned=planned,
    )


def _register_recall_jobs(registry: JobRegistry) -> None:
    registry.register(RECALLS_PLAN_ALL, plan_recalls_all_organizations)
    registry.register(RECALLS_PLAN, plan_recalls_organization)
    registry.schedule(
        Schedule(
            name="notifications.recalls.plan",
            kind=RECALLS_PLAN_ALL,
            payload=RecallsPlanAll(),
            every=timedelta(days=1),
            # 07:20 UTC: morning in Europe and Africa; elsewhere delivery holds a message
            # due in quiet hours until they end.
            offset=timedelta(hours=7, minutes=20),
        )
    )
