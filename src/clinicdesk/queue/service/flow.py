"""The visit flow: waiting -> called (to a room) -> in consultation -> done, and the
detours: left without being seen, transferred to another provider, sent back to waiting,
prioritized, moved up or down. Every step is timestamped, audited with who did it, and
announced live after commit (``common.record_step``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.db import on_commit
from clinicdesk.core.models import utcnow
from clinicdesk.queue.errors import QueueEmpty, StepRefused
from clinicdesk.queue.models import Visit
from clinicdesk.queue.policies import VisitAction
from clinicdesk.queue.schemas import CallNextRequest, PriorityRequest, TransferRequest
from clinicdesk.queue.service import providers, rooms
from clinicdesk.queue.service.board import forget_learned_lengths
from clinicdesk.queue.service.common import get_changeable_visit, record_step
from clinicdesk.queue.service.queues import waiting_in
from clinicdesk.queue.signals import VisitFinished, VisitStarted, visit_finished, visit_started
from clinicdesk.queue.vocabulary import Priority, VisitStatus, VisitStep
from clinicdesk.scheduling import public as scheduling


async def _busy_elsewhere(session: AsyncSession, provider_id: uuid.UUID, visit: Visit) -> None:
    """A provider sees one patient at a time: starting another needs the first finished."""
    current = await session.scalar(
        select(Visit).where(
            Visit.provider_id == provider_id,
            Visit.status == VisitStatus.IN_CONSULTATION,
            Visit.id != visit.id,
        )
    )
    if current is not None:
        raise StepRefused(
            f"The provider is still in consultation with {current.token}. Finish or send "
            "that visit back to waiting first."
        )


async def call(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    room: str | None,
    provider_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Visit:
    """Call the patient (again, if they did not come) to a room. An unassigned walk-in
    is taken by ``provider_id`` (the caller's own provider when they have one). The room
    is one of the location's rooms; without one, the provider's usual room there
    (``rooms.room_for_call``), which the call then remembers."""
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.CALL,
        doing="called",
        expected_version=expected_version,
    )
    before = audit.snapshot(visit)
    if visit.provider_id is None:
        if provider_id is None:
            raise StepRefused(
                f"{visit.token} is not assigned to a provider yet. Choose who sees them."
            )
        await scheduling.check_works_at(session, provider_id, visit.location_id)
        visit.provider_id = provider_id
    chosen_room = await rooms.room_for_call(
        session,
        location_id=visit.location_id,
        provider_id=visit.provider_id,
        asked=room,
        called_before=visit.room,
    )
    visit.status = VisitStatus.CALLED
    visit.room = chosen_room
    if chosen_room is not None:
        await rooms.remember_room(
            session, provider_id=visit.provider_id, location_id=visit.location_id, room=chosen_room
        )
    visit.called_at = utcnow()
    await record_step(
        session, actor=actor, visit=visit, step=VisitStep.CALLED, at=visit.called_at, before=before
    )
    return visit


async def call_next(session: AsyncSession, *, actor: Actor, data: CallNextRequest) -> Visit:
    """The first waiting patient of the provider's queue at the location, or, when it is
    empty, the first of the location's unassigned walk-ins. Booked patients keep their
    appointments: an unassigned walk-in goes before them only when urgent."""
    provider_id = data.provider_id or (await providers.provider_of(session, actor)).id
    await scheduling.check_works_at(session, provider_id, data.location_id)
    day = await scheduling.location_today(session, data.location_id)
    heads = []
    for queue_provider in (provider_id, None):
        waiting = await waiting_in(
            session, location_id=data.location_id, day=day, provider_id=queue_provider, lock=True
        )
        heads.append(waiting[0] if waiting else None)
    own, walk_in = heads
    chosen = own or walk_in
    if (
        own is not None
        and walk_in is not None
        and walk_in.priority == Priority.URGENT
        and walk_in.priority > own.priority
    ):
        chosen = walk_in
    if chosen is not None:
        return await call(
            session, actor=actor, visit_id=chosen.id, room=data.room, provider_id=provider_id
        )
    raise QueueEmpty("Nobody is waiting for this provider or in the unassigned queue.")


async def start(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    expected_version: int | None = None,
) -> Visit:
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.START,
        doing="started",
        expected_version=expected_version,
    )
    if visit.provider_id is None:
        provider = await providers.provider_of(session, actor)
        await scheduling.check_works_at(session, provider.id, visit.location_id)
        visit.provider_id = provider.id
    await _busy_elsewhere(session, visit.provider_id, visit)
    before = audit.snapshot(visit)
    now = utcnow()
    visit.status = VisitStatus.IN_CONSULTATION
    visit.started_at = now
    visit.called_at = visit.called_at or now
    await record_step(
        session, actor=actor, visit=visit, step=VisitStep.STARTED, at=now, before=before
    )
    await providers.follow_consultation(
        session, actor=actor, provider_id=visit.provider_id, consulting=True
    )
    await visit_started.send(
        session,
        VisitStarted(
            actor=actor,
            visit_id=visit.id,
            patient_id=visit.patient_id,
            provider_id=visit.provider_id,
            location_id=visit.location_id,
            appointment_id=visit.appointment_id,
        ),
    )
    return visit


async def finish(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    expected_version: int | None = None,
) -> Visit:
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.FINISH,
        doing="finished",
        expected_version=expected_version,
    )
    before = audit.snapshot(visit)
    visit.status = VisitStatus.DONE
    visit.finished_at = utcnow()
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.FINISHED,
        at=visit.finished_at,
        before=before,
    )
    # After commit: a board built before then would learn again from the old lengths.
    on_commit(session, partial(forget_learned_lengths, visit.organization_id))
    if visit.appointment_id is not None:
        await scheduling.mark_fulfilled(session, actor=actor, appointment_id=visit.appointment_id)
    if visit.provider_id is not None:
        await providers.follow_consultation(
            session, actor=actor, provider_id=visit.provider_id, consulting=False
        )
    await visit_finished.send(
        session,
        VisitFinished(
            actor=actor,
            visit_id=visit.id,
            patient_id=visit.patient_id,
            provider_id=visit.provider_id,
            location_id=visit.location_id,
            appointment_id=visit.appointment_id,
        ),
    )
    return visit


async def mark_left(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None = None,
) -> Visit:
    """Left without being seen. A booked appointment becomes a no-show."""
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.LEAVE,
        doing="marked as left",
        expected_version=expected_version,
    )
    before = audit.snapshot(visit)
    visit.status = VisitStatus.LEFT
    visit.left_at = utcnow()
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.LEFT,
        at=visit.left_at,
        before=before,
        detail=reason,
    )
    if visit.appointment_id is not None:
        await scheduling.mark_no_show(
            session, actor=actor, appointment_id=visit.appointment_id, expected_version=None
        )
    return visit


async def return_to_waiting(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Visit:
    """Back to the waiting room (not there when called; sent for a test and coming back).
    The patient keeps their place: priority and order are unchanged."""
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.RETURN,
        doing="sent back to waiting",
        expected_version=expected_version,
    )
    was_consulting = visit.status == VisitStatus.IN_CONSULTATION
    before = audit.snapshot(visit)
    visit.status = VisitStatus.WAITING
    visit.room = None
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.RETURNED,
        at=utcnow(),
        before=before,
        detail=reason,
    )
    if was_consulting and visit.provider_id is not None:
        await providers.follow_consultation(
            session, actor=actor, provider_id=visit.provider_id, consulting=False
        )
    return visit


async def transfer(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    data: TransferRequest,
    expected_version: int | None = None,
) -> Visit:
    """To another provider's queue (or the unassigned one), waiting again, keeping the
    place the patient earned by their appointment time or arrival."""
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.TRANSFER,
        doing="transferred",
        expected_version=expected_version,
    )
    if data.provider_id == visit.provider_id:
        raise StepRefused(f"{visit.token} is already in this queue.")
    if data.provider_id is not None:
        await scheduling.check_works_at(session, data.provider_id, visit.location_id)
    was = (visit.provider_id, visit.status == VisitStatus.IN_CONSULTATION)
    before = audit.snapshot(visit)
    visit.provider_id = data.provider_id
    visit.status = VisitStatus.WAITING
    visit.room = None
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.TRANSFERRED,
        at=utcnow(),
        before=before,
        detail=data.reason,
    )
    if was[1] and was[0] is not None:
        await providers.follow_consultation(
            session, actor=actor, provider_id=was[0], consulting=False
        )
    return visit


async def set_priority(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    data: PriorityRequest,
    expected_version: int | None = None,
) -> Visit:
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.PRIORITY,
        doing="prioritized",
        expected_version=expected_version,
    )
    before = audit.snapshot(visit)
    visit.priority = int(data.priority)
    visit.priority_reason = data.reason if data.priority > Priority.NORMAL else None
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.PRIORITIZED,
        at=utcnow(),
        before=before,
        detail=data.reason,
    )
    return visit


async def move(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: uuid.UUID,
    up: bool,
    expected_version: int | None = None,
) -> Visit:
    """Swap places with the neighbour in the queue. Passing a patient of another priority
    is a priority change, not a move."""
    visit = await get_changeable_visit(
        session,
        visit_id,
        action=VisitAction.MOVE,
        doing="moved",
        expected_version=expected_version,
    )
    queue = await waiting_in(
        session,
        location_id=visit.location_id,
        day=visit.service_date,
        provider_id=visit.provider_id,
    )
    index = next(i for i, v in enumerate(queue) if v.id == visit.id)
    other_index = index - 1 if up else index + 1
    if not 0 <= other_index < len(queue):
        raise StepRefused(f"{visit.token} is already {'first' if up else 'last'} in the queue.")
    other = queue[other_index]
    if other.priority != visit.priority:
        raise StepRefused(f"{other.token} has another priority. Change the priority to pass them.")
    before = audit.snapshot(visit)
    if visit.order_key == other.order_key:
        # Same due time (two walk-ins in one second): the token would decide again, so
        # place the mover just before or after the other instead.
        tick = timedelta(milliseconds=1)
        visit.order_key = other.order_key - tick if up else other.order_key + tick
    else:
        visit.order_key, other.order_key = other.order_key, visit.order_key
    await record_step(
        session,
        actor=actor,
        visit=visit,
        step=VisitStep.MOVED,
        at=utcnow(),
        before=before,
        detail="up" if up else "down",
    )
    return visit
