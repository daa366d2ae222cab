"""The visit flow's seams, on SQLite and PostgreSQL: ``visit_finished`` runs in the
finishing transaction (a failing handler undoes the finish), and the learned
consultation lengths are forgotten only once the finish is committed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.models import utcnow
from clinicdesk.core.permissions import Permission
from clinicdesk.identity.models import Organization
from clinicdesk.queue import estimates
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import AppointmentCheckIn
from clinicdesk.queue.service import board, checkin, flow
from clinicdesk.queue.signals import VisitFinished, visit_finished
from clinicdesk.queue.vocabulary import VisitStatus
from tests.support.queue import book_today, make_queue_clinic


async def _visit_in_consultation(
    session: AsyncSession, clinic: Organization
) -> tuple[Actor, uuid.UUID, uuid.UUID]:
    """A doctor, their visit in consultation, and the organization's id."""
    qc = await make_queue_clinic(session, clinic, patients=1)
    doctor = Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["doctor"],
        permissions=frozenset({Permission.QUEUE_WRITE}),
    )
    appointment_id = await book_today(session, qc, qc.patient_ids[0])
    async with unit_of_work(session):
        visit, _secret = await checkin.check_in_appointment(
            session, actor=doctor, data=AppointmentCheckIn(appointment_id=appointment_id)
        )
        await flow.start(session, actor=doctor, visit_id=visit.id)
    return doctor, visit.id, qc.organization_id


async def _finished_entries(session: AsyncSession, visit_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.resource_id == str(visit_id), AuditEvent.action == "visit.finished")
        )
        or 0
    )


async def test_a_failing_visit_finished_handler_undoes_the_finish(
    session: AsyncSession, clinic: Organization
) -> None:
    doctor, visit_id, org_id = await _visit_in_consultation(session, clinic)
    learned = (0.0, estimates.DurationModel.learn([], now=utcnow()))
    board._models[org_id] = learned

    async def refuse(_session: AsyncSession, _finished: VisitFinished) -> None:
        raise RuntimeError("the encounter cannot close")

    visit_finished.connect(refuse)
    try:
        with pytest.raises(RuntimeError, match="cannot close"):
            async with unit_of_work(session):
                await flow.finish(session, actor=doctor, visit_id=visit_id)
    finally:
        visit_finished.disconnect(refuse)

    session.expire_all()
    assert (await session.get_one(Visit, visit_id)).status == VisitStatus.IN_CONSULTATION
    assert await _finished_entries(session, visit_id) == 0
    # Rolled back: what was learned still stands.
    assert board._models.get(org_id) is learned


async def test_visit_finished_reaches_handlers_and_the_cache_is_cleared_after_commit(
    session: AsyncSession, clinic: Organization
) -> None:
    doctor, visit_id, org_id = await _visit_in_consultation(session, clinic)
    board._models[org_id] = (0.0, estimates.DurationModel.learn([], now=utcnow()))
    heard: list[VisitFinished] = []
    cache_at_handler: list[bool] = []

    async def listen(_session: AsyncSession, finished: VisitFinished) -> None:
        heard.append(finished)
        cache_at_handler.append(org_id in board._models)

    visit_finished.connect(listen)
    try:
        async with unit_of_work(session):
            await flow.finish(session, actor=doctor, visit_id=visit_id)
            # Inside the transaction the cache is untouched ...
            assert org_id in board._models
    finally:
        visit_finished.disconnect(listen)

    # ... and forgotten once the finish is committed.
    assert org_id not in board._models
    assert [f.visit_id for f in heard] == [visit_id]
    assert cache_at_handler == [True]
    assert heard[0].actor == doctor
    assert await _finished_entries(session, visit_id) == 1
