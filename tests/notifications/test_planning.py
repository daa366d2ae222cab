"""Planning messages with the booking, in its transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.jobs.models import Job
from clinicdesk.identity.models import Organization
from clinicdesk.notifications.message_models import Message, NotificationSettings
from clinicdesk.notifications.vocabulary import MessageStatus
from clinicdesk.scheduling.schemas import AppointmentCreate, AppointmentReschedule
from clinicdesk.scheduling.service import booking
from tests.notifications.support import book_at, local, make_desk, messages_of


async def test_a_booking_plans_its_confirmation_and_reminders_with_their_jobs(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    start = local(desk.book.monday, 10)
    appointment = await book_at(session, desk, start)
    planned = await messages_of(session, appointment.id)
    assert [(m.purpose, m.lead_minutes) for m in planned] == [
        ("booked", None),
        ("reminder", 2880),
        ("reminder", 120),
    ]
    assert {m.channel for m in planned} == {"sms"}
    assert all(m.status == MessageStatus.QUEUED for m in planned)
    assert planned[1].due_at == start - timedelta(days=2)
    assert planned[2].due_at == start - timedelta(hours=2)
    jobs = await session.scalar(
        select(func.count()).select_from(Job).where(Job.kind == "notifications.deliver")
    )
    assert jobs == 3


async def test_a_booking_that_rolls_back_leaves_no_message_and_no_job(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    before_jobs = await session.scalar(select(func.count()).select_from(Job))
    nested = await session.begin_nested()
    appointment = await booking.book(
        session,
        actor=desk.actor,
        data=AppointmentCreate(
            patient_id=desk.book.patient_id,
            provider_id=desk.book.provider_id,
            location_id=desk.book.location_id,
            type_id=desk.book.type_id,
            starts_at=local(desk.book.monday, 10),
        ),
    )
    assert len(await messages_of(session, appointment.id)) == 3  # planned inside it
    await nested.rollback()
    assert await session.scalar(select(func.count()).select_from(Message)) == 0
    assert await session.scalar(select(func.count()).select_from(Job)) == before_jobs


async def test_a_booking_moved_within_the_grace_delay_is_confirmed_once(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    await booking.reschedule(
        session,
        actor=desk.actor,
        appointment_id=appointment.id,
        data=AppointmentReschedule(starts_at=local(desk.book.monday, 11)),
        expected_version=None,
    )
    await session.commit()
    planned = await messages_of(session, appointment.id)
    queued = [m for m in planned if m.status == MessageStatus.QUEUED]
    assert [m.purpose for m in queued] == ["booked", "reminder", "reminder"]
    assert all(m.planned_for == local(desk.book.monday, 11) for m in queued)
    withdrawn = [m for m in planned if m.status == MessageStatus.CANCELLED]
    assert len(withdrawn) == 3
    assert {m.status_reason for m in withdrawn} == {"The appointment moved."}


async def test_a_booking_cancelled_before_anything_went_out_sends_nothing(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    await booking.cancel(
        session,
        actor=desk.actor,
        appointment_id=appointment.id,
        reason="Booked by mistake",
        expected_version=None,
    )
    await session.commit()
    planned = await messages_of(session, appointment.id)
    assert {m.status for m in planned} == {MessageStatus.CANCELLED.value}
    assert not [m for m in planned if m.purpose == "cancelled"]


async def test_a_day_lead_keeps_the_local_time_across_a_daylight_saving_change(
    session: AsyncSession, clinic: Organization
) -> None:
    # New York springs forward on Sunday 14 March 2027: a 10:00 Monday appointment's
    # two-day reminder is 10:00 on Saturday (EST), 47 real hours before (EDT).
    desk = await make_desk(session, clinic, zone="America/New_York")
    start = local(date(2027, 3, 15), 10, "America/New_York")
    appointment = await book_at(session, desk, start)
    reminders = [m for m in await messages_of(session, appointment.id) if m.lead_minutes]
    two_days, two_hours = reminders
    assert two_days.due_at == datetime(2027, 3, 13, 15, 0, tzinfo=UTC)  # 10:00 EST
    assert start - two_days.due_at == timedelta(hours=47)
    assert two_hours.due_at == datetime(2027, 3, 15, 12, 0, tzinfo=UTC)  # 08:00 EDT


async def test_a_reminder_due_in_quiet_hours_waits_for_the_morning(
    session: AsyncSession, clinic: Organization
) -> None:
    # The two-hour reminder of an 08:30 appointment would go at 06:30, inside the default
    # quiet hours (21:00-08:00): it waits until 08:00 and still goes (30 minutes ahead
    # is the limit, so it is kept).
    desk = await make_desk(session, clinic, zone="America/New_York")
    start = local(desk.book.monday, 9, "America/New_York")
    appointment = await book_at(session, desk, start)
    reminders = {m.lead_minutes: m for m in await messages_of(session, appointment.id)}
    assert reminders[120].due_at == local(desk.book.monday, 8, "America/New_York")


@pytest.mark.parametrize("leads", [[24 * 60]])
async def test_the_organization_sets_its_own_lead_times(
    session: AsyncSession, clinic: Organization, leads: list[int]
) -> None:
    desk = await make_desk(session, clinic)
    session.add(NotificationSettings(organization_id=clinic.id, reminder_leads=leads))
    await session.commit()
    appointment = await book_at(session, desk, local(desk.book.monday, 10))
    reminders = [m.lead_minutes for m in await messages_of(session, appointment.id)]
    assert reminders == [None, 24 * 60]


async def test_a_patient_without_contact_details_gets_a_not_sent_record(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await make_desk(session, clinic)
    appointment = await book_at(
        session, desk, local(desk.book.monday, 10), patient_id=desk.book.other_patient_id
    )
    planned = await messages_of(session, appointment.id)
    # The second patient has only an e-mail: the organization's order is SMS, then e-mail.
    assert {m.channel for m in planned} == {"email"}
    assert {m.status for m in planned} == {MessageStatus.QUEUED.value}
