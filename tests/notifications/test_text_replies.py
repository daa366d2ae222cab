"""Texts through Twilio (a fake server the test starts): delivery receipts, and patients'
replies through the signed webhook — X cancels and the waitlist is offered the time, C
confirms, R and anything else go to the desk, STOP stops; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.config import Settings
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.alert_models import StaffAlert, StaffAlertRecipient
from clinicdesk.notifications.message_models import ContactPreference, InboundMessage, Message
from clinicdesk.notifications.vocabulary import MessageStatus
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.series_schemas import WaitlistWrite
from clinicdesk.scheduling.service import waitlist
from tests.conftest import make_settings
from tests.notifications.fake_twilio import FakeTwilio
from tests.notifications.support import PHONE, interrupted_hand_over, make_desk
from tests.notifications.test_delivery import immediate, sent_confirmation
from tests.support.identity import create_user
from tests.support.jobs import run_app_jobs
from tests.support.patients import register_patient

INBOUND = "http://testserver/api/v1/notifications/twilio/inbound"


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, owner_url: str, fake_twilio: FakeTwilio
) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        database_owner_url=owner_url,
        text_provider="twilio",
        twilio_account_sid=fake_twilio.account_sid,
        twilio_auth_token=fake_twilio.auth_token,
        text_from="+15005550006",
        twilio_api_url=fake_twilio.url,
        public_url="http://testserver",
    )


async def test_twilio_gets_the_text_and_its_receipt_marks_it_delivered(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    assert message.status == MessageStatus.SENT
    (received,) = fake_twilio.messages
    assert received.to == PHONE
    assert message.provider == "twilio" and message.provider_id == received.sid
    assert received.status_callback == "http://testserver/api/v1/notifications/twilio/status"
    answer = await fake_twilio.deliver(received.sid, "delivered", client=client)
    assert answer.status_code == 204, answer.text
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert message.status == MessageStatus.DELIVERED
    late = await fake_twilio.deliver(received.sid, "sent", client=client)
    assert late.status_code == 204
    await session.refresh(message)
    assert message.status == MessageStatus.DELIVERED  # a receipt never moves it back


async def test_a_receipt_with_a_bad_signature_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    clinic_id = clinic.id  # the refused request rolls back: loaded rows expire
    (received,) = fake_twilio.messages
    answer = await fake_twilio.deliver(
        received.sid, "delivered", client=client, signature="bm90IGEgc2lnbmF0dXJl"
    )
    assert answer.status_code == 403
    await scope_to_tenant(session, clinic_id)
    await session.refresh(message)
    assert message.status == MessageStatus.SENT


async def test_a_provider_that_already_has_the_message_is_not_sent_it_again(
    app: FastAPI, session: AsyncSession, clinic: Organization, fake_twilio: FakeTwilio
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message, accepted = await interrupted_hand_over(app, session, desk)
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert len(fake_twilio.messages) == 1
    assert message.status == MessageStatus.SENT
    assert message.provider_id == accepted.provider_id


async def test_a_reply_x_cancels_and_offers_the_time_to_the_waitlist(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    await scope_to_tenant(session, clinic.id)
    waiting = await register_patient(
        session,
        given_name="Wes",
        family_name="Wait",
        birth_date=date(1970, 2, 2),
        phone="+16172019988",
    )
    entry = await waitlist.add_entry(
        session,
        actor=desk.actor,
        data=WaitlistWrite(
            patient_id=waiting.id,
            type_id=desk.book.type_id,
            location_id=desk.book.location_id,
            earliest=desk.book.monday,
            latest=desk.book.monday,
        ),
    )
    await session.commit()
    answer = await fake_twilio.send_inbound(INBOUND, PHONE, "x", client=client)
    assert answer.status_code == 200, answer.text
    assert "<Response></Response>" in answer.text
    await scope_to_tenant(session, clinic.id)
    appointment = await session.get(Appointment, message.appointment_id)
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.status == "cancelled"
    cancelled = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == str(appointment.id),
            AuditEvent.action == "appointment.cancelled",
        )
    )
    assert cancelled is not None and cancelled.actor_kind == "patient"
    await session.refresh(entry)
    assert entry.status == "offered"
    offer = await session.scalar(select(Message).where(Message.waitlist_entry_id == entry.id))
    assert offer is not None and offer.purpose == "waitlist_offer"
    (reply,) = (await session.scalars(select(InboundMessage))).all()
    assert reply.action == "cancelled"
    # The same webhook again (Twilio retries): nothing more happens.
    params_sid = reply.provider_id
    assert params_sid


async def test_a_reply_c_confirms_and_stop_opts_out(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    assert (await fake_twilio.send_inbound(INBOUND, PHONE, "C", client=client)).status_code == 200
    await scope_to_tenant(session, clinic.id)
    appointment = await session.get(Appointment, message.appointment_id)
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.patient_confirmed_at is not None
    assert appointment.status == "booked"
    assert (
        await fake_twilio.send_inbound(INBOUND, PHONE, "Stop", client=client)
    ).status_code == 200
    await scope_to_tenant(session, clinic.id)
    preference = await session.scalar(select(ContactPreference))
    assert preference is not None and preference.opted_out and preference.channel == "sms"
    actions = [
        r.action
        for r in await session.scalars(select(InboundMessage).order_by(InboundMessage.received_at))
    ]
    assert actions == ["confirmed", "opted_out"]


async def test_other_replies_go_to_the_desks_inbox(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    receptionist = await create_user(session, clinic, Role.RECEPTIONIST)
    await immediate(session, clinic)
    await sent_confirmation(app, session, desk)
    for body in ("R", "Can I come at 11 instead?", "OK"):
        answer = await fake_twilio.send_inbound(INBOUND, PHONE, body, client=client)
        assert answer.status_code == 200
    await scope_to_tenant(session, clinic.id)
    actions = sorted(r.action for r in await session.scalars(select(InboundMessage)))
    assert actions == ["call_back", "confirmed", "to_inbox"]
    titles = sorted(
        (
            await session.scalars(
                select(StaffAlert.title)
                .join(StaffAlertRecipient, StaffAlertRecipient.alert_id == StaffAlert.id)
                .where(StaffAlertRecipient.user_id == receptionist.id)
            )
        ).all()
    )
    # The confirmation needs nobody; the other two do.
    assert titles == [
        "Ann Book asks for a call back",
        "Ann Book replied: “Can I come at 11 instead?”",
    ]


async def test_a_failed_delivery_tells_the_desk(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    receptionist = await create_user(session, clinic, Role.RECEPTIONIST)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    (received,) = fake_twilio.messages
    answer = await fake_twilio.deliver(received.sid, "undelivered", "30006", client=client)
    assert answer.status_code == 204
    await scope_to_tenant(session, clinic.id)
    await session.refresh(message)
    assert message.status == MessageStatus.BOUNCED
    alert = await session.scalar(
        select(StaffAlert)
        .join(StaffAlertRecipient, StaffAlertRecipient.alert_id == StaffAlert.id)
        .where(StaffAlertRecipient.user_id == receptionist.id)
    )
    assert alert is not None and alert.kind == "message_failed"
    assert alert.link == f"/admin/messages/{message.id}"


async def test_a_reply_with_a_bad_signature_or_from_a_stranger_does_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    clinic: Organization,
    fake_twilio: FakeTwilio,
) -> None:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    message = await sent_confirmation(app, session, desk)
    # The refused request rolls back the test's savepoint: loaded rows expire.
    clinic_id, appointment_id = clinic.id, message.appointment_id
    forged = await fake_twilio.send_inbound(
        INBOUND, PHONE, "X", client=client, signature="Zm9yZ2Vk"
    )
    assert forged.status_code == 403
    stranger = await fake_twilio.send_inbound(INBOUND, "+16172010000", "X", client=client)
    assert stranger.status_code == 200
    await scope_to_tenant(session, clinic_id)
    appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.status == "booked"
    assert (await session.scalars(select(InboundMessage))).all() == []
