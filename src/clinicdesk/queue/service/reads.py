"""Visits as the API and the screens show them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.identity import public as identity
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import PatientStatusRead, VisitRead
from clinicdesk.queue.service.board import Line, board_for_visit
from clinicdesk.queue.service.common import get_visit
from clinicdesk.queue.vocabulary import OPEN_STATUSES, VisitStatus
from clinicdesk.scheduling import public as scheduling


def visit_read(visit: Visit, line: Line | None = None, link: str | None = None) -> VisitRead:
    waiting = visit.status in {VisitStatus.WAITING, VisitStatus.CALLED}
    return VisitRead(
        id=visit.id,
        token=visit.token,
        status=VisitStatus(visit.status),
        location_id=visit.location_id,
        patient_id=visit.patient_id,
        provider_id=visit.provider_id,
        appointment_id=visit.appointment_id,
        type_id=visit.type_id,
        service_date=visit.service_date,
        priority=visit.priority,
        priority_reason=visit.priority_reason,
        room=visit.room,
        arrived_at=visit.arrived_at,
        called_at=visit.called_at,
        started_at=visit.started_at,
        finished_at=visit.finished_at,
        left_at=visit.left_at,
        version=visit.version,
        position=line.position if line and waiting else None,
        estimated_wait_minutes=line.estimate_minutes if line and waiting else None,
        status_link=link,
    )


async def read_visit(
    session: AsyncSession, visit_id: uuid.UUID, link: str | None = None, *, actor: Actor | None
) -> VisitRead:
    """One visit as staff see it, recorded as a read of its patient by ``actor``. None
    only for the answer to a change of the visit, whose own entry names the patient."""
    visit = await get_visit(session, visit_id)
    if actor is not None:
        await audit.record_read(
            session,
            actor=actor,
            patient_id=visit.patient_id,
            view="visit",
            resource_type="visit",
            resource_id=visit.id,
        )
    line = None
    if visit.status in OPEN_STATUSES:
        _board, line = await board_for_visit(session, visit)
    return visit_read(visit, line, link)


async def visits_of_day(
    session: AsyncSession, location_id: uuid.UUID, *, actor: Actor | None
) -> list[Visit]:
    """Everyone checked in at the location today, in order of arrival. Recorded as a
    read by ``actor``; None only for the waiting-room display, which shows tokens."""
    day = await scheduling.location_today(session, location_id)
    rows = await session.scalars(
        select(Visit)
        .where(Visit.location_id == location_id, Visit.service_date == day)
        .order_by(Visit.token_number)
    )
    found = list(rows.all())
    if actor is not None:
        await audit.record_list_read(
            session, actor=actor, patient_ids=[v.patient_id for v in found], view="visits"
        )
    return found


async def patient_status(session: AsyncSession, visit_id: uuid.UUID) -> PatientStatusRead:
    """The patient's own view of their visit: their token and place, nobody else's."""
    visit = await get_visit(session, visit_id)
    board, line = (
        await board_for_visit(session, visit) if visit.status in OPEN_STATUSES else (None, None)
    )
    provider = (
        await scheduling.get_provider(session, visit.provider_id) if visit.provider_id else None
    )
    location = (
        board.location.name
        if board
        else (await identity.get_location(session, visit.location_id)).name
    )
    waiting = visit.status in {VisitStatus.WAITING, VisitStatus.CALLED}
    return PatientStatusRead(
        token=visit.token,
        status=VisitStatus(visit.status),
        location=location,
        provider=provider.display_name if provider else None,
        room=visit.room if visit.status == VisitStatus.CALLED else None,
        position=line.position if line and waiting else None,
        estimated_wait_minutes=line.estimate_minutes if line and waiting else None,
        text_when_near=visit.text_when_near,
    )


async def portal_visit(session: AsyncSession, *, actor: Actor) -> PatientStatusRead | None:
    """The signed-in patient's visit of today (the latest, if they came twice)."""
    if actor.patient_id is None:
        return None
    visit = await session.scalar(
        select(Visit)
        .where(Visit.patient_id == actor.patient_id)
        .order_by(Visit.arrived_at.desc())
        .limit(1)
    )
    if visit is None or visit.status_link_expires_at is None:
        return None
    if visit.status_link_expires_at <= utcnow():
        return None
    return await patient_status(session, visit.id)
