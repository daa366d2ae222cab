"""A patient merge, as the queue sees it (``patients.signals.patient_merged``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.public import PatientMerged, move_records
from clinicdesk.queue.models import Visit


async def move_to_kept_patient(session: AsyncSession, merge: PatientMerged) -> dict[str, int]:
    """The duplicate's visits (open ones included: a patient waiting under the duplicate
    keeps their place, token and status link) follow the kept record."""
    return await move_records(session, merge, ((Visit.patient_id, "visit"),))
