"""The messages log, resend, test sends, settings, templates and connection tests through
the JSON API, on SQLite and PostgreSQL; and the figures health and metrics show."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.jobs.models import Job
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.channels import EmailSender, Senders, TwilioSender
from clinicdesk.notifications.message_models import Message, NotificationSettings
from clinicdesk.notifications.service import messages
from tests.notifications.fake_twilio import FakeTwilio
from tests.notifications.support import Desk, book_at, local, make_desk
from tests.support.identity import SignIn, create_user
from tests.support.jobs import run_app_jobs

API = "/api/v1/notifications"


async def _desk(session: AsyncSession, clinic: Organization) -> Desk:
    """A clinic whose patients can be reached, without quiet hours (the tests run at any
    hour) and an appointment of Ann's with its three messages planned."""
    desk = await make_desk(session, clinic)
    session.add(
        NotificationSettings(organization_id=clinic.id, quiet_start="00:00", quiet_end="00:00")
    )
    await session.commit()
    await book_at(session, desk, local(desk.book.monday, 10))
    return desk


async def _send_confirmation(app: FastAPI, session: AsyncSession, clinic: Organization) -> Message:
    """The booking's confirmation made due now and sent (the file sink by default)."""
    await scope_to_tenant(session, clinic.id)
    now = utcnow()
    booked = await session.scalar(select(Message).where(Message.purpose == "booked"))
    assert booked is not None
    booked.due_at = now
    await session.execute(
        update(Job).where(Job.dedupe_key.startswith(f"notify:{booked.id}:")).values(run_at=now)
    )
    await session.commit()
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic.id)
    sent = await session.scalar(select(Message).where(Message.purpose == "booked"))
    assert sent is not None and sent.status == "sent", sent and sent.status_reason
    return sent


async def test_the_log_lists_newest_first_filters_and_names_the_patients(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await _desk(session, clinic)
    await book_at(session, desk, local(desk.book.monday, 11), patient_id=desk.book.other_patient_id)
    ann, ben, clinic_id = desk.book.patient_id, desk.book.other_patient_id, clinic.id
    desk_user = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))

    listed = await desk_user.get(f"{API}/messages")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 6
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )
    assert all(i["patient_name"] for i in items)
    assert len({i["patient_name"] for i in items}) == 2
    email = (await desk_user.get(f"{API}/messages", params={"channel": "email"})).json()
    assert {i["channel"] for i in email["items"]} == {"email"} and len(email["items"]) == 3
    reminders = await desk_user.get(
        f"{API}/messages", params={"purpose": "reminder", "patient_id": str(ann)}
    )
    assert len(reminders.json()["items"]) == 2
    later = (utcnow() + timedelta(days=2)).date().isoformat()
    assert (await desk_user.get(f"{API}/messages", params={"date_from": later})).json()[
        "items"
    ] == []
    paged = (await desk_user.get(f"{API}/messages", params={"limit": 4})).json()
    assert len(paged["items"]) == 4 and paged["next_cursor"]
    rest = await desk_user.get(f"{API}/messages", params={"cursor": paged["next_cursor"]})
    assert len(rest.json()["items"]) == 2
    assert (
        await desk_user.get(f"{API}/messages", params={"status": "nonsense"})
    ).status_code == 422
    await scope_to_tenant(session, clinic_id)
    entry = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "patient.listed",
            AuditEvent.request_id == listed.headers["X-Request-ID"],
        )
    )
    assert entry is not None and entry.details is not None
    assert set(entry.details["patient_ids"]) == {str(ann), str(ben)}


async def test_one_message_shows_its_text_and_the_read_is_audited(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    await _desk(session, clinic)
    sent = await _send_confirmation(app, session, clinic)
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    shown = await admin.get(f"{API}/messages/{sent.id}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["status"] == "sent" and body["provider"] == "file"
    assert "you are booked with" in body["body"] and body["address"] == "+16172013344"
    await scope_to_tenant(session, clinic.id)
    read = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "patient.viewed",
            AuditEvent.request_id == shown.headers["X-Request-ID"],
        )
    )
    assert read is not None and read.patient_id == sent.patient_id
    assert read.resource_type == "message" and read.resource_id == str(sent.id)
    assert (await admin.get(f"{API}/messages/{uuid.uuid4()}")).status_code == 404


async def test_a_sent_message_is_sent_again_as_a_new_one_once_per_key(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    await _desk(session, clinic)
    sent = await _send_confirmation(app, session, clinic)
    clinic_id, sent_id, appointment_id = clinic.id, sent.id, sent.appointment_id
    desk_user = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    key = {"Idempotency-Key": "resend-1"}
    first = await desk_user.post(f"{API}/messages/{sent_id}/resend", headers=key)
    assert first.status_code == 201, first.text
    again = await desk_user.post(f"{API}/messages/{sent_id}/resend", headers=key)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotency-Replayed"] == "true"
    copy = first.json()
    assert copy["id"] != str(sent_id) and copy["status"] == "queued"
    assert (copy["purpose"], copy["channel"], copy["appointment_id"]) == (
        "booked",
        "sms",
        str(appointment_id),
    )
    await scope_to_tenant(session, clinic_id)
    assert await session.scalar(select(Message).where(Message.id == uuid.UUID(copy["id"])))
    # Still queued: the copy (and the reminders) have not gone yet.
    refused = await desk_user.post(f"{API}/messages/{copy['id']}/resend")
    assert refused.status_code == 409
    assert "not gone yet" in refused.json()["detail"]
    await run_app_jobs(app, session)
    await scope_to_tenant(session, clinic_id)
    resent = await session.get(Message, uuid.UUID(copy["id"]), populate_existing=True)
    assert resent is not None and resent.status == "sent"


async def test_a_test_send_goes_through_the_file_sink(
    app: FastAPI, session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    wrong = await admin.post(f"{API}/test-send", json={"channel": "sms", "to": "not a number"})
    assert wrong.status_code == 422
    assert "country code" in wrong.json()["detail"]
    made = await admin.post(
        f"{API}/test-send", json={"channel": "sms", "to": "+1 617 201 3344", "language": "es"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["purpose"] == "test" and made.json()["patient_id"] is None
    await run_app_jobs(app, session)
    shown = (await admin.get(f"{API}/messages/{made.json()['id']}")).json()
    assert shown["status"] == "sent", shown
    assert shown["address"] == "+16172013344"
    sink = app.state.runtime.settings.data_dir / "messages" / "sms" / f"{shown['id']}.txt"
    written = sink.read_text()
    assert "To: +16172013344" in written
    assert "este es un mensaje de prueba de ClinicDesk" in written


async def test_settings_are_checked_and_versioned(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    read = await admin.get(f"{API}/settings")
    assert read.status_code == 200
    etag = read.headers["ETag"]
    body = {k: v for k, v in read.json().items() if k not in ("version", "updated_at")}
    too_soon = await admin.put(
        f"{API}/settings", json={**body, "reminder_leads": [5]}, headers={"If-Match": etag}
    )
    assert too_soon.status_code == 422
    assert "out of range" in too_soon.text
    bad_clock = await admin.put(
        f"{API}/settings", json={**body, "quiet_start": "25:99"}, headers={"If-Match": etag}
    )
    assert bad_clock.status_code == 422
    assert "HH:MM" in bad_clock.text
    twice = await admin.put(
        f"{API}/settings", json={**body, "channels": ["sms", "sms"]}, headers={"If-Match": etag}
    )
    assert twice.status_code == 422 and "listed twice" in twice.text
    saved = await admin.put(
        f"{API}/settings",
        json={**body, "reminder_leads": [1440, 180], "daily_limit": 2},
        headers={"If-Match": etag},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["reminder_leads"] == [1440, 180]
    again = await admin.put(
        f"{API}/settings",
        json={**body, "daily_limit": 3},
        headers={"If-Match": saved.headers["ETag"]},
    )
    assert again.status_code == 200, again.text
    stale = await admin.put(
        f"{API}/settings",
        json={**body, "daily_limit": 5},
        headers={"If-Match": saved.headers["ETag"]},
    )
    assert stale.status_code == 412
    assert (await admin.put(f"{API}/settings", json=body)).status_code == 428


async def test_templates_are_previewed_saved_refused_and_reset(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    listed = (await admin.get(f"{API}/templates")).json()
    assert len(listed) == 8 * 3 * 2 and not any(t["customized"] for t in listed)
    path = f"{API}/templates/reminder/sms/en"
    shown = await admin.get(path)
    assert shown.json()["customized"] is False and shown.headers["ETag"] == 'W/"0"'
    text = "Hi {{ patient_name }}, see you {{ date }} at {{ time }}. {{ clinic_name }}"
    preview = await admin.post(f"{path}/preview", json={"body": text})
    assert preview.status_code == 200
    assert preview.json()["body"] == (
        "Hi Alex, see you Tuesday, 8 December 2026 at 10:30. Riverside Clinic"
    )
    for wrong, said in (
        ("Hi {{ surname }}", "surname"),
        ("{{ ''.__class__ }}", "may not"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "may not"),
        ("Hi {{ patient_name", "cannot be used"),
    ):
        refused = await admin.put(path, json={"body": wrong}, headers={"If-Match": "*"})
        assert refused.status_code == 422, (wrong, refused.text)
        assert said in refused.json()["detail"], refused.json()
        assert (await admin.post(f"{path}/preview", json={"body": wrong})).status_code == 422
    saved = await admin.put(path, json={"body": text}, headers={"If-Match": 'W/"0"'})
    assert saved.status_code == 200, saved.text
    assert saved.json()["customized"] is True and saved.headers["ETag"] == 'W/"1"'
    stale = await admin.put(path, json={"body": text + "!"}, headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    email = await admin.put(
        f"{API}/templates/reminder/email/en", json={"body": text}, headers={"If-Match": "*"}
    )
    assert email.status_code == 422 and "subject" in email.json()["detail"]
    assert (await admin.delete(path)).status_code == 204
    assert (await admin.get(path)).json()["customized"] is False
    for unknown in ("nothing/sms/en", "reminder/fax/en", "reminder/sms/fr"):
        assert (await admin.get(f"{API}/templates/{unknown}")).status_code == 404


async def test_the_connection_test_answers_with_the_providers_words(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    fake_twilio: FakeTwilio,
) -> None:
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    sink = await admin.post(f"{API}/channels/sms/check")
    assert sink.status_code == 200 and "written to files" in sink.json()["detail"]
    default: Senders = app.state.notifications
    mailer = default.email
    assert isinstance(mailer, EmailSender)
    wrong = TwilioSender(fake_twilio.settings(auth_token="not-the-token"))
    app.state.notifications = Senders(email=mailer, text=wrong, webhook_base="http://testserver")
    refused = await admin.post(f"{API}/channels/whatsapp/check")
    assert refused.status_code == 502, refused.text
    assert refused.json()["title"] == "The channel's connection test failed"
    assert "Auth Token" in refused.json()["detail"], refused.json()
    right = TwilioSender(fake_twilio.settings())
    app.state.notifications = Senders(email=mailer, text=right, webhook_base="http://testserver")
    works = await admin.post(f"{API}/channels/sms/check")
    assert works.status_code == 200 and "Twilio answered" in works.json()["detail"]
    assert (await admin.post(f"{API}/channels/fax/check")).status_code == 404


async def test_the_desk_reads_the_log_and_only_the_admin_changes_how_messages_go(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, sign_in_web: SignIn
) -> None:
    desk_user = await create_user(session, clinic, Role.RECEPTIONIST)
    doctor = await create_user(session, clinic, Role.DOCTOR)
    api = await sign_in_api(desk_user)
    assert (await api.get(f"{API}/messages")).status_code == 200
    assert (await api.get(f"{API}/figures")).status_code == 200
    assert (await api.get(f"{API}/settings")).status_code == 403
    assert (await api.put(f"{API}/settings", json={}, headers={"If-Match": "*"})).status_code == 403
    assert (
        await api.post(f"{API}/test-send", json={"channel": "sms", "to": "+16172013344"})
    ).status_code == 403
    assert (await api.get(f"{API}/templates")).status_code == 403
    assert (await api.post(f"{API}/channels/sms/check")).status_code == 403
    web = await sign_in_web(desk_user)
    assert (await web.get("/admin/messages")).status_code == 200
    assert (await web.get("/admin/notifications")).status_code == 403
    assert (await web.get("/admin/notifications/templates")).status_code == 403
    assert (await (await sign_in_api(doctor)).get(f"{API}/messages")).status_code == 403


async def test_the_figures_count_what_waits_and_what_failed(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
    client: httpx.AsyncClient,
) -> None:
    await _desk(session, clinic)
    await scope_to_tenant(session, clinic.id)
    first = await session.scalar(select(Message).where(Message.purpose == "booked"))
    assert first is not None
    first.due_at = utcnow() - timedelta(minutes=10)
    reminder = await session.scalar(select(Message).where(Message.lead_minutes == 120))
    assert reminder is not None
    reminder.status, reminder.failed_at = "failed", utcnow() - timedelta(hours=1)
    await session.commit()
    desk_user = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    figures = (await desk_user.get(f"{API}/figures")).json()
    assert figures["queued"] == 2 and figures["failed_24h"] == 1
    assert 590 <= figures["oldest_due_queued_seconds"] < 900
    # The installation's figures (health, metrics) see every organization.
    everyone = await messages.installation_figures(session)
    assert everyone.queued >= 2 and everyone.failed_24h >= 1
    assert everyone.oldest_due_queued_seconds is not None
    ready = await client.get("/health/ready")
    assert set(ready.json()["figures"]["notifications"]) == {
        "queued",
        "failed_24h",
        "oldest_due_queued_seconds",
    }
    metrics = await client.get("/metrics")
    assert "clinicdesk_notifications_queued " in metrics.text
    assert "clinicdesk_notifications_failed_24h " in metrics.text
