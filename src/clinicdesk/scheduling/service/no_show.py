"""What the no-show risk model (notifications) reads of the appointment book, and the one
column it writes.

* The history: finished appointments only. A no-show is ``noshow``; a kept one is
  ``arrived``, ``checked-in`` or ``fulfilled``. Cancelled appointments say nothing about
  showing up, and one still ``booked`` after its time was never marked either way: both
  are left out.
* ``no_show_risk`` is derived (like a search key): writing it records no audit entry and
  does not move the appointment's version or ``updated_at``, so a form opened before a
  nightly rescoring is not refused as stale.
* Nothing here is shown to anyone, so nothing is recorded as a read (the calendar that
  shows the risk records its own reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.service.hours import location_zone
from clinicdesk.scheduling.vocabulary import AppointmentStatus

KEPT = (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN, AppointmentStatus.FULFILLED)
FINISHED = (*KEPT, AppointmentStatus.NOSHOW)
HISTORY_LIMIT = 100_000
"""The newest finished appointments a training reads at most (a big hospital's two years
would be millions; the model has a dozen coefficients)."""
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FinishedAppointment:
    """One finished appointment of the history; ``booked_at`` is when the row was made."""

    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    type_id: uuid.UUID
    location_id: uuid.UUID
    starts_at: datetime
    booked_at: datetime
    time_zone: str
    no_show: bool


@dataclass(frozen=True, slots=True)
class Attendance:
    """A patient's finished appointments before a moment, and how many were missed."""

    finished: int = 0
    no_shows: int = 0


async def no_show_history(
    session: AsyncSession, since: datetime, *, until: datetime, limit: int = HISTORY_LIMIT
) -> list[FinishedAppointment]:
    """The organization's finished appointments that started in ``[since, until)``, the
    newest ``limit`` of them, oldest first, each with its location's time zone."""
    rows = (
        await session.execute(
            select(
                Appointment.id,
                Appointment.patient_id,
                Appointment.type_id,
                Appointment.location_id,
                Appointment.starts_at,
                Appointment.created_at,
                Appointment.status,
            )
            .where(
                Appointment.status.in_(FINISHED),
                Appointment.starts_at >= since,
                Appointment.starts_at < until,
            )
            .order_by(Appointment.starts_at.desc())
            .limit(limit)
        )
    ).all()
    zones = {
        location: (await location_zone(session, location)).key
        for location in {row.location_id for row in rows}
    }
    return [
        FinishedAppointment(
            appointment_id=row.id,
            patient_id=row.patient_id,
            type_id=row.type_id,
            location_id=row.location_id,
            starts_at=row.starts_at,
            booked_at=min(row.created_at, row.starts_at),
            time_zone=zones[row.location_id],
            no_show=row.status == AppointmentStatus.NOSHOW,
        )
        for row in reversed(rows)
    ]


async def attendance_before(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID], before: datetime
) -> dict[uuid.UUID, Attendance]:
    """Each patient's finished appointments that started before ``before`` (patients
    without any are absent from the answer). One grouped query per 500 patients, on the
    (patient, start) index."""
    wanted = sorted(set(patient_ids))
    found: dict[uuid.UUID, Attendance] = {}
    for at in range(0, len(wanted), _CHUNK):
        rows = await session.execute(
            select(
                Appointment.patient_id,
                func.count(),
                func.sum(case((Appointment.status == AppointmentStatus.NOSHOW, 1), else_=0)),
            )
            .where(
                Appointment.patient_id.in_(wanted[at : at + _CHUNK]),
                Appointment.starts_at < before,
                Appointment.status.in_(FINISHED),
            )
            .group_by(Appointment.patient_id)
        )
        for patient_id, finished, no_shows in rows:
            found[patient_id] = Attendance(int(finished), int(no_shows or 0))
    return found


async def booked_between(
    session: AsyncSession, start: datetime, end: datetime, *, limit: int = 20_000
) -> list[Appointment]:
    """Appointments still booked that start in ``[start, end)``, soonest first."""
    found = await session.scalars(
        select(Appointment)
        .where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at)
        .limit(limit)
    )
    return list(found)


async def set_no_show_risk(
    session: AsyncSession, appointment_id: uuid.UUID, risk: float | None
) -> None:
    """Write the appointment's predicted no-show risk (0-1, or None to clear it)."""
    if risk is not None and not 0.0 <= risk <= 1.0:
        raise ValueError(f"a no-show risk is a probability, not {risk!r}")
    await session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id)
        # updated_at kept: a derived figure is not a change of the appointment.
        .values(no_show_risk=risk, updated_at=Appointment.updated_at)
        .execution_options(synchronize_session=False)
    )
    # The appointment in this session (just booked, or shown next) reads the new figure
    # without being marked changed: a flush must not write it again with a new version.
    held = session.sync_session.identity_map.get(identity_key(Appointment, appointment_id))
    if held is not None:
        set_committed_value(held, "no_show_risk", risk)
