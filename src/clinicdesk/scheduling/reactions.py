"""Scheduling's handlers of signals, connected when the application is built."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients.public import patient_merged
from clinicdesk.scheduling.service import patient_merge, waitlist
from clinicdesk.scheduling.signals import AppointmentFreed, appointment_freed


async def offer_freed_time_to_waitlist(session: AsyncSession, freed: AppointmentFreed) -> None:
    await waitlist.offer_freed_time(
        session,
        actor=freed.actor,
        provider_id=freed.provider_id,
        location_id=freed.location_id,
        freed=(freed.starts_at, freed.ends_at),
    )


def connect() -> None:
    appointment_freed.connect(offer_freed_time_to_waitlist)
    patient_merged.connect(patient_merge.move_to_kept_patient)
