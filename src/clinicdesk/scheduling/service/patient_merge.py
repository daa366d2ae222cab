"""A patient merge, as scheduling sees it (``patients.signals.patient_merged``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.public import PatientMerged, move_records
from clinicdesk.scheduling.models import Appointment, WaitlistEntry


async def move_to_kept_patient(session: AsyncSession, merge: PatientMerged) -> dict[str, int]:
    """The duplicate's appointments and waitlist entries follow the kept record. They
    keep their times, providers and slots: the provider's book does not change, so no
    double booking can arise."""
    return await move_records(
        session,
        merge,
        ((Appointment.patient_id, "appointment"), (WaitlistEntry.patient_id, "waitlist_entry")),
    )
