"""The notification admin pages over HTTP (the browser test drives them in Chromium): the
settings form refuses with its reasons and saves, the template editor previews, refuses
and saves, a test send answers with its status line, the log and a message's page."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.notifications.message_models import Message, NotificationSettings
from tests.support.identity import SignIn, create_user

HTMX = {"HX-Request": "true"}
SETTINGS = {
    "version": "1",
    "lead_0": "2",
    "lead_0_unit": "days",
    "lead_1": "3",
    "lead_1_unit": "hours",
    "lead_2": "",
    "lead_2_unit": "hours",
    "lead_3": "",
    "lead_3_unit": "hours",
    "quiet_start": "22:00",
    "quiet_end": "07:30",
    "grace_minutes": "1.5",
    "daily_limit": "3",
    "channel_0": "email",
    "channel_1": "sms",
    "channel_2": "",
    "extra_reminder_for_high_risk": "",
}


async def test_the_settings_form_refuses_with_reasons_and_saves(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    clinic_id = clinic.id
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    page = await admin.get("/admin/notifications")
    assert page.status_code == 200 and "Patient messages" in page.text
    too_soon = await admin.post(
        "/admin/notifications", data={**SETTINGS, "lead_1": "5", "lead_1_unit": "minutes"}
    )
    assert too_soon.status_code == 422
    assert "out of range" in too_soon.text
    twice = await admin.post("/admin/notifications", data={**SETTINGS, "channel_1": "email"})
    assert twice.status_code == 422 and "listed twice" in twice.text
    bad_clock = await admin.post("/admin/notifications", data={**SETTINGS, "quiet_end": "7h"})
    assert bad_clock.status_code == 422 and "HH:MM" in bad_clock.text
    saved = await admin.post("/admin/notifications", data=SETTINGS)
    assert saved.status_code == 303, saved.text
    await scope_to_tenant(session, clinic_id)
    stored = await session.scalar(select(NotificationSettings))
    assert stored is not None
    assert stored.reminder_leads == [2880, 180]
    assert (stored.quiet_start, stored.quiet_end, stored.grace_seconds) == ("22:00", "07:30", 90)
    assert stored.channels == ["email", "sms"] and stored.extra_reminder_for_high_risk is False
    stale = await admin.post("/admin/notifications", data={**SETTINGS, "version": "0"})
    assert stale.status_code == 412
    check = await admin.post("/admin/notifications/channels/sms/check", headers=HTMX)
    assert check.status_code == 200 and "written to files" in check.text


async def test_the_template_editor_previews_refuses_and_saves(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    editor = "/admin/notifications/templates/reminder/sms/en"
    page = await admin.get(editor)
    assert page.status_code == 200 and "patient_name" in page.text
    preview = await admin.post(
        f"{editor}/preview", data={"body": "Hi {{ patient_name }}"}, headers=HTMX
    )
    assert "Hi Alex" in preview.text
    sneaky = await admin.post(
        f"{editor}/preview", data={"body": "{{ ''.__class__ }}"}, headers=HTMX
    )
    assert "may not" in sneaky.text
    refused = await admin.post(editor, data={"version": "0", "body": "Hi {{ nobody }}"})
    assert refused.status_code == 422 and "nobody" in refused.text
    saved = await admin.post(editor, data={"version": "0", "body": "Hi {{ patient_name }}"})
    assert saved.status_code == 303
    listed = await admin.get("/admin/notifications/templates")
    assert "Customized" in listed.text
    reset = await admin.post(f"{editor}/reset")
    assert reset.status_code == 303
    assert "Customized" not in (await admin.get("/admin/notifications/templates")).text
    assert (await admin.get("/admin/notifications/templates/x/sms/en")).status_code == 404


async def test_a_test_send_shows_its_status_and_the_log_opens_it(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    clinic_id = clinic.id
    admin = await sign_in_web(await create_user(session, clinic, Role.ADMIN))
    wrong = await admin.post(
        "/admin/notifications/templates/test-send",
        data={"channel": "sms", "to": "12345", "language": "en"},
        headers=HTMX,
    )
    assert wrong.status_code == 422 and "country code" in wrong.text
    sent = await admin.post(
        "/admin/notifications/templates/test-send",
        data={"channel": "email", "to": "Front.Desk@Example.org", "language": "en"},
        headers=HTMX,
    )
    assert sent.status_code == 200 and "Queued" in sent.text
    assert "front.desk@example.org" in sent.text
    await scope_to_tenant(session, clinic_id)
    message = await session.scalar(select(Message))
    assert message is not None
    log = await admin.get("/admin/messages", params={"purpose": "test"})
    assert "Test message" in log.text and f"/admin/messages/{message.id}" in log.text
    assert "No messages match" in (await admin.get("/admin/messages?status=failed")).text
    one = await admin.get(f"/admin/messages/{message.id}")
    assert one.status_code == 200 and "not gone yet" in one.text
    status = await admin.get(f"/admin/messages/{message.id}/status", headers=HTMX)
    assert "Queued" in status.text and "<html" not in status.text
