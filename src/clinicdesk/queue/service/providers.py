"""Provider status: available, in consultation, on break, away, in transit (with an ETA).

Starting and finishing a consultation set it on their own; staff set the rest (the
doctor on their screen, or the front desk after a phone call: "stuck in traffic, 20
minutes")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.queue.errors import NotAProvider
from clinicdesk.queue.models import ProviderStatus
from clinicdesk.queue.schemas import ProviderStatusWrite
from clinicdesk.queue.vocabulary import AWAY_STATES, ProviderState
from clinicdesk.scheduling import public as scheduling
from clinicdesk.scheduling.public import Provider

PROVIDER_STATUS_EVENT = "provider.status"


def _event(row: ProviderStatus) -> Event:
    return Event(
        organization_id=row.organization_id,
        type=PROVIDER_STATUS_EVENT,
        data={
            "provider_id": str(row.provider_id),
            "state": row.state,
            "eta_at": row.eta_at.isoformat() if row.eta_at else None,
        },
    )


async def statuses(
    session: AsyncSession, provider_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ProviderStatus]:
    """The providers' current status rows (a provider without one is available)."""
    if not provider_ids:
        return {}
    rows = await session.scalars(
        select(ProviderStatus).where(ProviderStatus.provider_id.in_(provider_ids))
    )
    return {row.provider_id: row for row in rows}


async def _apply(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    state: ProviderState,
    eta_at: datetime | None,
    note: str | None,
) -> ProviderStatus:
    now = utcnow()
    row = (await statuses(session, [provider_id])).get(provider_id)
    before = audit.snapshot(row) if row is not None else None
    if row is None:
        row = ProviderStatus(provider_id=provider_id, state=state, since=now)
        session.add(row)
    elif row.state == state and row.eta_at == eta_at and row.note == note:
        return row
    if row.state != state:
        row.since = now
    row.state = state
    row.eta_at = eta_at
    row.note = note
    row.changed_by_id = actor.user_id
    await session.flush()
    await audit.record(
        session,
        action="provider.status_changed",
        actor=actor,
        resource_type="provider",
        resource_id=provider_id,
        changes=audit.changes(before, audit.snapshot(row)),
    )
    publish_after_commit(session, _event(row))
    return row


async def set_status(
    session: AsyncSession,
    *,
    actor: Actor,
    provider_id: uuid.UUID,
    data: ProviderStatusWrite,
    expected_version: int | None = None,
) -> ProviderStatus:
    """Set by a person. An ETA only means something while away; it is kept as the time
    they are due back, so it counts down on every screen. ``expected_version`` is the
    status row's version, 0 before its first change."""
    await scheduling.get_provider(session, provider_id)
    current = (await statuses(session, [provider_id])).get(provider_id)
    if current is not None:
        check_version(current, expected_version)
    elif expected_version not in (None, 0):
        raise PreconditionFailed(
            "Someone else changed this status since you read it. Reload and try again.",
            current_version=0,
        )
    eta_at = None
    if data.state in AWAY_STATES and data.eta_minutes is not None:
        eta_at = utcnow() + timedelta(minutes=data.eta_minutes)
    return await _apply(
        session,
        actor=actor,
        provider_id=provider_id,
        state=data.state,
        eta_at=eta_at,
        note=data.note,
    )


async def follow_consultation(
    session: AsyncSession, *, actor: Actor, provider_id: uuid.UUID, consulting: bool
) -> None:
    """Starting a consultation makes the provider "in consultation"; finishing (or sending
    the patient back) makes them available again."""
    state = ProviderState.IN_CONSULTATION if consulting else ProviderState.AVAILABLE
    await _apply(session, actor=actor, provider_id=provider_id, state=state, eta_at=None, note=None)


async def provider_of(session: AsyncSession, actor: Actor) -> Provider:
    """The provider record of the signed-in user (the doctor's own queue)."""
    for provider in await scheduling.list_providers(session):
        if provider.user_id == actor.user_id:
            return provider
    raise NotAProvider(
        "Your account is not set up as a provider, so it has no queue of its own. "
        "An administrator can add you under Providers."
    )
