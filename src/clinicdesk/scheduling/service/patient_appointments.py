"""A patient's appointments as the chart lists them: what is still ahead, then the most
recent past ones (finished, cancelled and missed visits are past whatever their time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.service import calendar
from clinicdesk.scheduling.service.portal_page import split_upcoming

WINDOW = timedelta(days=62)  # the calendar service's longest range
PAST_SHOWN = 10
PAST_WINDOWS = 6  # about a year back
UPCOMING_WINDOWS = 3  # about six months ahead


@dataclass(frozen=True, slots=True)
class PatientAppointments:
    upcoming: list[Appointment]  # soonest first
    past: list[Appointment]  # latest first, at most PAST_SHOWN


async def patient_appointments(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, now: datetime
) -> PatientAppointments:
    """Upcoming by ``policies.is_upcoming``; the rest of the next months' appointments
    (a visit finished early, a cancelled one) joins the past, latest first."""
    ahead: list[Appointment] = []
    for n in range(UPCOMING_WINDOWS):
        ahead += await calendar.appointments_between(
            session,
            actor=actor,
            start=now + n * WINDOW,
            end=now + (n + 1) * WINDOW,
            patient_id=patient_id,
        )
    upcoming, done_ahead = split_upcoming(ahead, now=now)
    past: list[Appointment] = list(done_ahead)
    for n in range(PAST_WINDOWS):
        if len(past) >= PAST_SHOWN:
            break
        found = await calendar.appointments_between(
            session,
            actor=actor,
            start=now - (n + 1) * WINDOW,
            end=now - n * WINDOW,
            patient_id=patient_id,
        )
        past += reversed(found)
    return PatientAppointments(upcoming=upcoming, past=past[:PAST_SHOWN])
