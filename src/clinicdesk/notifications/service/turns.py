""" "Your turn is near": a patient who follows the queue from outside (they took the status
link at check-in) is told once when two patients or fewer are ahead of them.

Checked by a job after any step at the location (``queue_moved``), not in the step's own
transaction: working out the places needs the whole board, and the desk's call must
not wait for it. Bursts of steps coalesce into one check (one active job per location).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.jobs import JobKind, enqueue
from clinicdesk.core.models import utcnow
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.configuration import get_settings
from clinicdesk.notifications.service.contacts import patient_to_message, reach
from clinicdesk.notifications.service.planning import add_message
from clinicdesk.notifications.vocabulary import Purpose
from clinicdesk.queue import public as queue

# Told when at most this many patients are ahead (position 1 is next).
PLACES_AHEAD = 2


class CheckTurns(BaseModel):
    location_id: uuid.UUID


CHECK_TURNS = JobKind("notifications.check_turns", CheckTurns, max_attempts=3)


async def queue_moved(session: AsyncSession, location_id: uuid.UUID) -> None:
    """In the step's transaction: ask for a check once it commits (coalesced), when
    someone waiting there asked for the text (most steps of most days: nobody did, and
    the step costs one indexed look-up, not a job and a board)."""
    if not await queue.someone_asked_for_a_text(session, location_id):
        return
    await enqueue(
        session,
        CHECK_TURNS,
        CheckTurns(location_id=location_id),
        dedupe_key=f"notify:turns:{location_id}",
    )


async def check_turns(session: AsyncSession, location_id: uuid.UUID) -> int:
    """Plan the message for each patient following from outside whose turn is near;
    how many were planned."""
    board = await queue.location_board(session, location_id)
    now = utcnow()
    near = [
        line
        for provider_queue in board.queues
        for line in provider_queue.waiting
        if line.position is not None
        and line.position <= PLACES_AHEAD + 1
        and line.visit.text_when_near
    ]
    if not near:
        return 0
    told = set(
        await session.scalars(
            select(Message.visit_id).where(Message.visit_id.in_([ln.visit.id for ln in near]))
        )
    )
    settings = await get_settings(session)
    planned = 0
    for line in near:
        if line.visit.id in told:
            continue
        patient = await patient_to_message(session, line.visit.patient_id)
        # A text first: whoever is outside is more likely to see it than an e-mail.
        order = sorted(settings.channels, key=lambda c: c == "email")
        await add_message(
            session,
            purpose=Purpose.TURN_NEAR,
            to=await reach(session, patient, order),
            due_at=now,
            patient_id=patient.id,
            visit_id=line.visit.id,
        )
        planned += 1
    return planned
