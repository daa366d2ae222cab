"""Background jobs and schedules of notifications, registered on the application's job
registry (``serve`` and ``clinicdesk worker`` build the same one)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from pydantic import BaseModel

from clinicdesk.core.jobs import JobContext, JobKind, JobRegistry, Schedule, enqueue
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity import public as identity
from clinicdesk.notifications.service import risk

log = structlog.get_logger(__name__)


def register_notification_jobs(registry: JobRegistry) -> None:
    """Every job kind and schedule of notifications."""
    _register_no_show_jobs(registry)


# --- no-show risk: nightly training and rescoring -----------------------------------------


class NoShowTrainAll(BaseModel):
    pass


class NoShowTrain(BaseModel):
    pass


NO_SHOW_TRAIN_ALL = JobKind("notifications.no_show.train_all", NoShowTrainAll, max_attempts=3)
NO_SHOW_TRAIN = JobKind("notifications.no_show.train", NoShowTrain, max_attempts=3)


async def train_all_organizations(context: JobContext, payload: NoShowTrainAll) -> None:
    """A system job: one training job per active organization, each in its own scope (so
    one clinic's failure retries alone, and PostgreSQL's row-level security admits each
    job row: it is written while scoped to its organization)."""
    session = context.session
    for organization_id in await identity.active_organization_ids(session):
        await scope_to_tenant(session, organization_id)
        await enqueue(
            session,
            NO_SHOW_TRAIN,
            NoShowTrain(),
            dedupe_key=f"notifications.no_show.train:{organization_id}",
        )
    await use_system_scope(session)


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
