""" "Your turn is near": a patient who asked on their status page gets one text when two
patients are ahead of them, from the job that follows a step in the queue; on SQLite
and PostgreSQL. Also: a merge moves a patient's messages and keeps an opt-out."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.jobs.models import Job
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.notifications.message_models import Message
from clinicdesk.patients.models import Patient
from clinicdesk.queue.models import Visit
from clinicdesk.queue.schemas import WalkInCheckIn
from clinicdesk.queue.service import checkin, flow
from tests.notifications.support import PHONE
from tests.support.jobs import run_app_jobs
from tests.support.queue import QueueClinic, make_queue_clinic


def _desk(qc: QueueClinic) -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["doctor"],
        permissions=frozenset({Permission.QUEUE_WRITE}),
    )


async def _walk_in(session: AsyncSession, qc: QueueClinic, n: int) -> tuple[uuid.UUID, str]:
    visit, secret = await checkin.check_in_walk_in(
        session,
        actor=_desk(qc),
        data=WalkInCheckIn(
            patient_id=qc.patient_ids[n], location_id=qc.location_id, provider_id=qc.provider_id
        ),
    )
    await session.commit()
    return visit.id, secret


async def _turn_texts(session: AsyncSession, qc: QueueClinic) -> list[Message]:
    await scope_to_tenant(session, qc.organization_id)
    return list(await session.scalars(select(Message).where(Message.purpose == "turn_near")))


async def test_a_patient_waiting_outside_is_texted_once_when_two_are_ahead(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=5)
    last = await session.get(Patient, qc.patient_ids[4])
    assert last is not None
    last.phone = PHONE
    visits = [await _walk_in(session, qc, n) for n in range(5)]
    last_visit, last_secret = visits[4]
    page = await client.get(f"/v/{last_secret}")
    assert "Text me when my turn is near" in page.text
    asked = await client.post(f"/v/{last_secret}/text-me")
    assert asked.status_code == 303
    page = await client.get(f"/v/{last_secret}")
    assert "We will text the number on your record" in page.text
    await run_app_jobs(app, session)
    assert await _turn_texts(session, qc) == []  # 4 ahead
    # Two of the four ahead leave (a called patient still counts until they go in).
    for visit_id, _ in visits[:2]:
        await flow.mark_left(session, actor=_desk(qc), visit_id=visit_id, reason="Went home")
        await session.commit()
    await run_app_jobs(app, session)
    (text,) = await _turn_texts(session, qc)
    await session.refresh(text)
    assert text.visit_id == last_visit
    assert text.status == "sent" and text.channel == "sms"
    assert "2 ahead" in (text.body or "")
    await flow.mark_left(session, actor=_desk(qc), visit_id=visits[2][0], reason="Went home")
    await session.commit()
    await run_app_jobs(app, session)
    assert len(await _turn_texts(session, qc)) == 1  # once


async def test_asking_when_already_near_texts_at_once(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=2)
    second = await session.get(Patient, qc.patient_ids[1])
    assert second is not None
    second.phone = PHONE
    visits = [await _walk_in(session, qc, n) for n in range(2)]
    assert (await client.post(f"/v/{visits[1][1]}/text-me")).status_code == 303
    await run_app_jobs(app, session)
    (text,) = await _turn_texts(session, qc)
    await session.refresh(text)
    assert text.status == "sent" and "1 ahead" in (text.body or "")


async def test_nobody_is_texted_who_did_not_ask(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=3)
    for n in range(3):
        patient = await session.get(Patient, qc.patient_ids[n])
        assert patient is not None
        patient.phone = PHONE
    visits = [await _walk_in(session, qc, n) for n in range(3)]
    await flow.mark_left(session, actor=_desk(qc), visit_id=visits[0][0], reason="Went home")
    await session.commit()
    # Nobody asked: no step even asks for the places to be worked out.
    checks = await session.scalar(
        select(func.count()).select_from(Job).where(Job.kind == "notifications.check_turns")
    )
    assert checks == 0
    await run_app_jobs(app, session)
    assert await _turn_texts(session, qc) == []
    await scope_to_tenant(session, qc.organization_id)
    visit = await session.get(Visit, visits[2][0])
    assert visit is not None and not visit.text_when_near
