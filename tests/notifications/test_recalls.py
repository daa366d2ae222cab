"""Recall messages, on SQLite and PostgreSQL: the daily job plans one "time to book your
check-up" per due recall (and not twice), the staff note never reaches the patient, and a
recall booked or cancelled before its message goes withdraws the message."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.clinical.models import Recall
from clinicdesk.clinical.schemas.recalls import RecallCancel, RecallWrite
from clinicdesk.clinical.service import recalls
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.jobs import enqueue
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import permissions_for
from clinicdesk.notifications.message_models import Message
from clinicdesk.notifications.service.recalls import RECALL_LEAD, plan_recall_messages
from clinicdesk.notifications.tasks import RECALLS_PLAN_ALL, RecallsPlanAll
from clinicdesk.notifications.vocabulary import MessageStatus, Purpose
from clinicdesk.scheduling.models import Provider
from tests.notifications.support import Desk, book_at, local, make_desk
from tests.notifications.test_delivery import immediate
from tests.support.jobs import run_app_jobs

NOTE = "Viral load after HIV treatment change"


async def _doctor(session: AsyncSession, desk: Desk) -> Actor:
    provider = await session.get(Provider, desk.book.provider_id)
    assert provider is not None
    return Actor(
        kind=ActorKind.STAFF,
        organization_id=desk.org.id,
        user_id=provider.user_id,
        roles=frozenset({"doctor"}),
        permissions=permissions_for(["doctor"]),
    )


async def _recall(
    session: AsyncSession, desk: Desk, due_on: date, *, typed: bool = False
) -> Recall:
    recall = await recalls.add_recall(
        session,
        actor=await _doctor(session, desk),
        patient_id=desk.book.patient_id,
        data=RecallWrite(due_on=due_on, type_id=desk.book.type_id if typed else None, note=NOTE),
    )
    await session.commit()
    return recall


async def _recall_messages(session: AsyncSession) -> list[Message]:
    rows = await session.scalars(
        select(Message).where(Message.purpose == Purpose.RECALL.value).order_by(Message.created_at)
    )
    return list(rows)


async def _run_daily(app: FastAPI, session: AsyncSession, clinic: Organization) -> None:
    await use_system_scope(session)
    await enqueue(session, RECALLS_PLAN_ALL, RecallsPlanAll())
    await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)


async def test_the_daily_job_asks_once_per_due_recall_and_never_says_the_note(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    today = await recalls.local_today(session)
    due = await _recall(session, desk, today + RECALL_LEAD - timedelta(days=1))
    later = await _recall(session, desk, today + RECALL_LEAD + timedelta(days=30))
    due_id, later_id = due.id, later.id

    await _run_daily(app, session, clinic)
    planned = await _recall_messages(session)
    assert [m.recall_id for m in planned] == [due_id]  # the later one is not due yet
    message = planned[0]
    await session.refresh(message)
    assert message.status == MessageStatus.SENT, message.status_reason
    assert message.patient_id == desk.book.patient_id
    assert message.body is not None
    assert "it is time to book your check-up" in message.body
    assert "+1 617 555 0100" in message.body  # the location's phone
    assert "Viral" not in message.body and "HIV" not in message.body

    await _run_daily(app, session, clinic)  # the next day: nothing twice
    assert [m.recall_id for m in await _recall_messages(session)] == [due_id]
    assert (await session.get_one(Recall, later_id)).status == "open"


async def test_a_booking_closes_the_recall_and_its_planned_message_is_withdrawn(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    today = await recalls.local_today(session)
    untyped = await _recall(session, desk, today + timedelta(days=3))
    typed = await _recall(session, desk, today + timedelta(days=5), typed=True)
    untyped_id, typed_id = untyped.id, typed.id
    assert await plan_recall_messages(session) == 2
    await session.commit()

    # The patient books the recall's type: that recall closes, though the untyped one is
    # older; their messages are still queued.
    first_id = (await book_at(session, desk, local(desk.book.monday, 10))).id
    session.expire_all()
    closed = await session.get_one(Recall, typed_id)
    assert (closed.status, closed.booked_appointment_id) == ("booked", first_id)
    assert (await session.get_one(Recall, untyped_id)).status == "open"
    # A second booking (no open recall of its type left) closes the untyped one.
    second_id = (await book_at(session, desk, local(desk.book.monday, 14))).id
    session.expire_all()
    assert (await session.get_one(Recall, untyped_id)).booked_appointment_id == second_id
    booked_entries = await session.scalars(
        select(AuditEvent.resource_id).where(AuditEvent.action == "recall.booked")
    )
    assert set(booked_entries) == {str(typed_id), str(untyped_id)}

    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    messages = await _recall_messages(session)
    assert len(messages) == 2
    for message in messages:
        await session.refresh(message)
        assert message.status == MessageStatus.CANCELLED
        assert message.status_reason == "The recall is booked."
        assert message.body is None  # never rendered, never sent


async def test_a_cancelled_recall_withdraws_its_message(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    recall = await _recall(session, desk, await recalls.local_today(session))
    assert await plan_recall_messages(session) == 1
    await recalls.cancel_recall(
        session,
        actor=await _doctor(session, desk),
        recall_id=recall.id,
        data=RecallCancel(reason="Seen by a specialist instead"),
    )
    await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    (message,) = await _recall_messages(session)
    await session.refresh(message)
    assert (message.status, message.status_reason) == (
        MessageStatus.CANCELLED,
        "The recall is cancelled.",
    )
