"""The recall message: "it is time to book your check-up" for a follow-up the doctor
planned in the chart (``clinical`` recalls).

A daily job per organization finds the open recalls whose due day is at most
``RECALL_LEAD`` ahead and plans one message for each that has none yet, due now: the
delivery step applies quiet hours, opt-outs and the daily limit like any message, and
withdraws it if the recall was booked or cancelled meanwhile (``delivery``). The text
says the clinic and asks the patient to book; the recall's note is never read here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical import public as clinical
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.configuration import get_settings
from clinicdesk.notifications.service.contacts import patient_to_message, reach
from clinicdesk.notifications.service.planning import add_message
from clinicdesk.notifications.vocabulary import Purpose

# The patient is asked this long before the recall's due day: two weeks leaves time to
# find a slot near that day (a 6-month check booked for the week it is due).
RECALL_LEAD = timedelta(days=14)
# Recall ids looked up per query (keeps the IN list well under database limits).
_CHUNK = 500


async def _with_message(session: AsyncSession, recall_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(recall_ids), _CHUNK):
        chunk = recall_ids[start : start + _CHUNK]
        rows = await session.scalars(
            select(Message.recall_id).where(Message.recall_id.in_(chunk)).distinct()
        )
        found |= {r for r in rows if r is not None}
    return found


async def plan_recall_messages(session: AsyncSession) -> int:
    """Plan the organization's due recall messages (once per recall); how many."""
    organization = await identity.get_organization(session)
    today = utcnow().astimezone(ZoneInfo(organization.time_zone)).date()
    due = await clinical.recalls_due(session, due_by=today + RECALL_LEAD)
    if not due:
        return 0
    told = await _with_message(session, [r.id for r in due])
    settings = await get_settings(session)
    planned = 0
    for recall in due:
        if recall.id in told:
            continue
        patient = await patient_to_message(session, recall.patient_id)
        await add_message(
            session,
            purpose=Purpose.RECALL,
            to=await reach(session, patient, settings.channels),
            due_at=utcnow(),
            patient_id=recall.patient_id,
            recall_id=recall.id,
        )
        planned += 1
    return planned
