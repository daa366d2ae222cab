"""An e-mail's confirm / cancel link: a GET never acts, the POST does once, an expired or
used link says so; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.notifications.message_models import Message, ReplyLink
from clinicdesk.scheduling.models import Appointment
from tests.notifications.support import book_at, local, make_desk, messages_of
from tests.notifications.test_delivery import immediate
from tests.support.jobs import run_app_jobs

LINK = re.compile(r"http://[^/\s]+(/r/[A-Za-z0-9_\-]+)\?do=(confirm|cancel)")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def emailed(app: FastAPI, session: AsyncSession, clinic: Organization) -> tuple[Message, str]:
    desk = await make_desk(session, clinic)
    await immediate(session, clinic)
    appointment = await book_at(
        session, desk, local(desk.book.monday, 10), patient_id=desk.book.other_patient_id
    )
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    message = (await messages_of(session, appointment.id))[0]
    await session.refresh(message)
    assert message.channel == "email" and message.status == "sent"
    paths = {do: path for path, do in LINK.findall(message.body or "")}
    assert set(paths) == {"confirm", "cancel"}
    assert paths["confirm"] == paths["cancel"]
    return message, paths["confirm"]


async def test_the_link_asks_first_and_then_confirms_once(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, clinic: Organization
) -> None:
    message, path = await emailed(app, session, clinic)
    appointment_id = message.appointment_id
    page = await client.get(path, params={"do": "cancel"})
    assert page.status_code == 200, page.text
    assert "Will you come?" in page.text and "10:00" in page.text
    assert "Ben" not in page.text  # the page names no one
    await scope_to_tenant(session, clinic.id)
    appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.status == "booked"  # opening the link changed nothing
    token = TOKEN.search(page.text)
    assert token is not None
    done = await client.post(path, data={"answer": "confirm", "csrf_token": token.group(1)})
    assert done.status_code == 200, done.text
    assert "confirmed" in done.text
    await scope_to_tenant(session, clinic.id)
    await session.refresh(appointment)
    assert appointment.patient_confirmed_at is not None
    again = await client.post(path, data={"answer": "cancel", "csrf_token": token.group(1)})
    assert again.status_code == 404
    assert "already used" in again.text
    await scope_to_tenant(session, clinic.id)
    await session.refresh(appointment)
    assert appointment.status == "booked"


async def test_the_link_cancels_and_an_expired_one_does_nothing(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, clinic: Organization
) -> None:
    message, path = await emailed(app, session, clinic)
    clinic_id, appointment_id = clinic.id, message.appointment_id
    page = await client.get(path)
    token = TOKEN.search(page.text)
    assert token is not None
    await scope_to_tenant(session, clinic_id)
    await session.execute(update(ReplyLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    await session.commit()
    expired = await client.post(path, data={"answer": "cancel", "csrf_token": token.group(1)})
    assert expired.status_code == 404 and "expired" in expired.text
    await scope_to_tenant(session, clinic_id)
    await session.execute(update(ReplyLink).values(expires_at=utcnow() + timedelta(days=3)))
    await session.commit()
    done = await client.post(path, data={"answer": "cancel", "csrf_token": token.group(1)})
    assert done.status_code == 200 and "cancelled" in done.text
    await scope_to_tenant(session, clinic_id)
    appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.status == "cancelled"
    assert (await client.get("/r/not-a-real-secret")).status_code == 404
