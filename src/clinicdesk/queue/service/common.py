"""What every queue use case shares: finding a visit, and recording a step (the timeline
row, the audit entry and the live event, all in the caller's transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.events import Event, publish_after_commit
from clinicdesk.core.models import check_version
from clinicdesk.queue.errors import StepRefused, VisitNotFound
from clinicdesk.queue.models import Visit, VisitStepRecord
from clinicdesk.queue.policies import ALLOWED_FROM, VisitAction
from clinicdesk.queue.signals import QueueMoved, queue_moved
from clinicdesk.queue.vocabulary import VisitStatus, VisitStep

EVENT_PREFIX = "queue."


def visit_event(visit: Visit, step: VisitStep) -> Event:
    """The live event of a step: ids, token, status and room only; never a name."""
    return Event(
        organization_id=visit.organization_id,
        type=f"{EVENT_PREFIX}{step.value}",
        data={
            "visit_id": str(visit.id),
            "location_id": str(visit.location_id),
            "provider_id": str(visit.provider_id) if visit.provider_id else None,
            "patient_id": str(visit.patient_id),
            "token": visit.token,
            "status": visit.status,
            "room": visit.room,
        },
    )


async def get_visit(session: AsyncSession, visit_id: uuid.UUID) -> Visit:
    visit = await session.get(Visit, visit_id)
    if visit is None:
        raise VisitNotFound("No visit with this id.")
    return visit


async def get_changeable_visit(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    action: VisitAction,
    doing: str,
    expected_version: int | None = None,
) -> Visit:
    """The visit, if ``action`` is allowed from its state (someone at another desk may
    have moved it on: the message says where it is now)."""
    visit = await get_visit(session, visit_id)
    check_version(visit, expected_version)
    if visit.status not in ALLOWED_FROM[action]:
        raise StepRefused(
            f"{visit.token} is {VisitStatus(visit.status).value.replace('_', ' ')} now and "
            f"cannot be {doing}. Reload the queue."
        )
    return visit


async def record_step(
    session: AsyncSession,
    *,
    actor: Actor,
    visit: Visit,
    step: VisitStep,
    at: datetime,
    before: dict[str, Any] | None,
    detail: str | None = None,
) -> None:
    """The step in the visit's timeline, who did it in the audit trail, and the live
    event once the transaction commits."""
    await session.flush()
    session.add(
        VisitStepRecord(
            visit_id=visit.id,
            step=step,
            at=at,
            by_user_id=actor.user_id,
            provider_id=visit.provider_id,
            room=visit.room,
            detail=detail,
        )
    )
    await audit.record(
        session,
        action=f"visit.{step.value}",
        actor=actor,
        resource_type="visit",
        resource_id=visit.id,
        patient_id=visit.patient_id,
        changes=audit.changes(before, audit.snapshot(visit)),
        details={"reason": detail} if detail else None,
    )
    publish_after_commit(session, visit_event(visit, step))
    await queue_moved.send(session, QueueMoved(location_id=visit.location_id))
