"""Recalls: the follow-ups a doctor plans ("recall in 6 months for a check-up"), from a
consultation or the chart; the front desk and the patient's messages act on them.

Rules:

* A recall is due on a day: given, or "in N weeks / months" from today in the
  organization's time zone (a month later than the 31st is the month's last day).
* It is open until the patient books (``close_for_booking``: a booked appointment
  closes the oldest open recall of its type, else the oldest open one without a type)
  or it is cancelled with the reason. Nothing is deleted; every change is audited.
* The note is for staff; nothing here hands it to a message (notifications reads only
  the recall's patient, due day and status).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import RecallNotFound, RecallStepRefused
from clinicdesk.clinical.models import Encounter, Recall
from clinicdesk.clinical.schemas.recalls import RecallCancel, RecallWrite
from clinicdesk.clinical.vocabulary import RecallStatus, RecallUnit
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.identity import public as identity
from clinicdesk.patients import public as patients
from clinicdesk.scheduling import public as scheduling

RESOURCE = "recall"

_record = partial(audit.record_change, resource_type=RESOURCE)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; past the end of a shorter month, its last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_day(today: date, count: int, unit: RecallUnit) -> date:
    if unit == RecallUnit.WEEKS:
        return today + timedelta(weeks=count)
    return add_months(today, count)


async def local_today(session: AsyncSession, now: datetime | None = None) -> date:
    organization = await identity.get_organization(session)
    return (now or utcnow()).astimezone(ZoneInfo(organization.time_zone)).date()


async def add_recall(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, data: RecallWrite
) -> Recall:
    patient = await patients.get_writable_patient(session, patient_id, actor=actor)
    if data.encounter_id is not None:
        encounter = await session.get(Encounter, data.encounter_id)
        if encounter is None or encounter.patient_id != patient.id:
            raise InvalidField("encounter_id", "This consultation is not this patient's.")
    if data.type_id is not None:
        await scheduling.get_type(session, data.type_id)
    today = await local_today(session)
    due_on = data.due_on
    if due_on is None and data.in_count is not None and data.in_unit is not None:
        due_on = due_day(today, data.in_count, data.in_unit)
    if due_on is None:
        raise InvalidField("due_on", "Say when: a date, or in how many weeks or months.")
    if due_on < today:
        raise InvalidField("due_on", "A recall is due today or later.")
    recall = Recall(
        patient_id=patient.id,
        encounter_id=data.encounter_id,
        due_on=due_on,
        type_id=data.type_id,
        note=data.note,
        status=RecallStatus.OPEN,
        created_by_id=actor.user_id,
    )
    session.add(recall)
    await session.flush()
    await _record(session, actor, "recall.added", recall, None)
    return recall


async def recalls_of(
    session: AsyncSession, patient_id: uuid.UUID, *, open_only: bool = False
) -> Sequence[Recall]:
    """The patient's recalls, soonest due first, without recording a read: for a page
    that has recorded its own (the consultation's)."""
    statement = select(Recall).where(Recall.patient_id == patient_id)
    if open_only:
        statement = statement.where(Recall.status == RecallStatus.OPEN)
    return (await session.scalars(statement.order_by(Recall.due_on, Recall.id))).all()


async def list_recalls(
    session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID, open_only: bool = False
) -> Sequence[Recall]:
    """The patient's recalls for ``actor`` to see; the read is recorded."""
    patient = await patients.get_patient(session, patient_id, actor=actor)
    rows = await recalls_of(session, patient.id, open_only=open_only)
    await audit.record_read(session, actor=actor, patient_id=patient.id, view="recalls")
    return rows


async def find_recall(session: AsyncSession, recall_id: uuid.UUID) -> Recall | None:
    """The recall without recording a read: for system work (a message checking the
    recall is still open), never to show it to a person."""
    return await session.get(Recall, recall_id)


async def get_recall(session: AsyncSession, recall_id: uuid.UUID, *, actor: Actor) -> Recall:
    recall = await find_recall(session, recall_id)
    if recall is None:
        raise RecallNotFound("No recall with this id.")
    await patients.get_patient(session, recall.patient_id, actor=actor)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=recall.patient_id,
        view="recall",
        resource_type=RESOURCE,
        resource_id=recall.id,
    )
    return recall


async def cancel_recall(
    session: AsyncSession,
    *,
    actor: Actor,
    recall_id: uuid.UUID,
    data: RecallCancel,
    expected_version: int | None = None,
) -> Recall:
    recall = await find_recall(session, recall_id)
    if recall is None:
        raise RecallNotFound("No recall with this id.")
    await patients.get_writable_patient(session, recall.patient_id, actor=actor)
    check_version(recall, expected_version)
    if recall.status != RecallStatus.OPEN:
        raise RecallStepRefused(f"This recall is {recall.status} already.")
    before = audit.snapshot(recall)
    recall.status = RecallStatus.CANCELLED
    recall.cancel_reason = data.reason
    await session.flush()
    await _record(session, actor, "recall.cancelled", recall, before)
    return recall


async def close_for_booking(
    session: AsyncSession, *, actor: Actor, appointment_id: uuid.UUID
) -> Recall | None:
    """A booked appointment closes the patient's oldest open recall of its type, else
    their oldest open recall without a type (one recall per booking)."""
    appointment = await scheduling.get_appointment(session, appointment_id)
    open_rows = await recalls_of(session, appointment.patient_id, open_only=True)
    recall = next((r for r in open_rows if r.type_id == appointment.type_id), None) or next(
        (r for r in open_rows if r.type_id is None), None
    )
    if recall is None:
        return None
    before = audit.snapshot(recall)
    recall.status = RecallStatus.BOOKED
    recall.booked_appointment_id = appointment.id
    await session.flush()
    await _record(session, actor, "recall.booked", recall, before)
    return recall


async def recalls_due(session: AsyncSession, *, due_by: date) -> Sequence[Recall]:
    """The organization's open recalls due on or before ``due_by`` (the recall message's
    daily planning)."""
    return (
        await session.scalars(
            select(Recall)
            .where(Recall.status == RecallStatus.OPEN, Recall.due_on <= due_by)
            .order_by(Recall.due_on, Recall.id)
        )
    ).all()
