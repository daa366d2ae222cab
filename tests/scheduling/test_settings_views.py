"""The appointment book's settings pages: a provider's week and time off, appointment
types, holidays, booking rules. Each change goes through the same service as the API
(audited), a refused form comes back with the message next to the field, a form based
on an older read is refused, and only an admin opens them."""

from __future__ import annotations

import re
import uuid
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.scheduling.models import AppointmentType, Provider
from tests.support.identity import browser_as, create_user
from tests.support.queue import QueueClinic, make_queue_clinic

PAGES = (
    "/admin/settings",
    "/admin/settings/providers",
    "/admin/settings/appointment-types",
    "/admin/settings/holidays",
    "/admin/settings/booking-rules",
    "/admin/settings/rooms",
)

# Once, on SQLite: pages over services with no SQL of one dialect.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def _admin(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> tuple[httpx.AsyncClient, QueueClinic]:
    qc = await make_queue_clinic(session, clinic, patients=0)
    admin = await create_user(session, clinic, Role.ADMIN)
    return await browser_as(app, session, admin), qc


def _version(page: str, action: str) -> str:
    """The version the form posting to ``action`` was built from."""
    form = re.search(rf'action="{re.escape(action)}".*?name="version" value="(\d+)"', page, re.S)
    assert form is not None, action
    return form.group(1)


async def _audited(session: AsyncSession, action: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )
    return int(count or 0)


async def test_the_settings_area_lists_its_sections_for_admins_only(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    browser, qc = await _admin(app, session, clinic)
    index = await browser.get("/admin/settings")
    assert index.status_code == 200
    for path in PAGES[1:]:
        assert f'href="{path}"' in index.text
        assert (await browser.get(path)).status_code == 200, path
    assert 'href="/admin/settings"' in (await browser.get("/")).text  # one menu entry
    desk = await browser_as(app, session, await create_user(session, clinic, Role.RECEPTIONIST))
    for path in (*PAGES, f"/admin/settings/providers/{qc.provider_id}"):
        assert (await desk.get(path)).status_code == 403, path
    refused = await desk.post(
        f"/admin/settings/providers/{qc.provider_id}/hours",
        data={"version": "1", "weekday": "0", "start_time": "08:00", "end_time": "09:00"},
    )
    assert refused.status_code == 403


async def test_a_providers_week_is_edited_block_by_block(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    browser, qc = await _admin(app, session, clinic)
    page_url = f"/admin/settings/providers/{qc.provider_id}"
    action = f"{page_url}/hours"
    page = await browser.get(page_url)
    assert page.status_code == 200 and "Dr. Ada" in page.text
    version = _version(page.text, action)
    block = {"weekday": "0", "location_id": str(qc.location_id)}
    # Dr. Ada works 00:00-23:00 every day in the test clinic: 23:00-23:30 is free.
    before = await _audited(session, "provider.hours_set")
    added = await browser.post(
        action, data={**block, "version": version, "start_time": "23:00", "end_time": "23:30"}
    )
    assert added.status_code == 303
    assert await _audited(session, "provider.hours_set") == before + 1
    page = await browser.get(page_url)
    assert "23:00\u201323:30" in page.text
    # An overlapping block, a block that ends before it starts, a stale version.
    version = _version(page.text, action)
    overlap = await browser.post(
        action, data={**block, "version": version, "start_time": "08:00", "end_time": "09:00"}
    )
    assert overlap.status_code == 422
    assert "This overlaps the block 00:00-23:00" in overlap.text
    backwards = await browser.post(
        action, data={**block, "version": version, "start_time": "23:40", "end_time": "23:35"}
    )
    assert backwards.status_code == 422
    assert "A block ends after it starts" in backwards.text
    no_time = await browser.post(action, data={**block, "version": version, "end_time": "23:50"})
    assert no_time.status_code == 422
    assert 'id="hours-start_time-error"' in no_time.text  # the message is at the field
    stale = await browser.post(
        action,
        data={
            **block,
            "version": str(int(version) - 1),
            "start_time": "23:40",
            "end_time": "23:50",
        },
    )
    assert stale.status_code == 412 and "Someone else changed this record" in stale.text
    # Remove the new block.
    page = await browser.get(page_url)
    provider = await session.get(Provider, qc.provider_id)
    assert provider is not None
    await session.refresh(provider)
    block_id = re.search(
        r'name="block_id" value="([0-9a-f-]{36})">\s*<button[^>]*aria-label="Remove Monday 23:00',
        page.text,
    )
    assert block_id is not None
    removed = await browser.post(
        f"{page_url}/hours/remove",
        data={"version": _version(page.text, f"{page_url}/hours/remove"), "block_id": block_id[1]},
    )
    assert removed.status_code == 303
    assert "23:00\u201323:30" not in (await browser.get(page_url)).text


async def test_time_off_and_closures_are_added_and_removed(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    browser, qc = await _admin(app, session, clinic)
    page_url = f"/admin/settings/providers/{qc.provider_id}"
    off = await browser.post(
        f"{page_url}/time-off", data={"on_date": "2030-03-04", "kind": "off", "reason": "Course"}
    )
    assert off.status_code == 303
    page = await browser.get(page_url)
    assert "03/04/2030" in page.text and "Course" in page.text  # the clinic's date format
    extra = await browser.post(
        f"{page_url}/time-off", data={"on_date": "2030-03-05", "kind": "extra"}
    )
    assert extra.status_code == 422
    assert "Extra hours need a start and an end time" in extra.text
    no_date = await browser.post(f"{page_url}/time-off", data={"kind": "off"})
    assert no_date.status_code == 422 and 'id="time-off-on_date-error"' in no_date.text
    exception = re.search(
        r'action="(/admin/settings/hours-exceptions/[0-9a-f-]{36}/remove)"', page.text
    )
    assert exception is not None
    gone = await browser.post(exception[1], data={"version": _version(page.text, exception[1])})
    assert gone.status_code == 303 and gone.headers["location"] == page_url
    assert "Course" not in (await browser.get(page_url)).text
    assert await _audited(session, "hours_exception.removed") == 1

    closure = await browser.post(
        "/admin/settings/holidays",
        data={"location_id": str(qc.location_id), "on_date": "2030-12-25", "reason": "Christmas"},
    )
    assert closure.status_code == 303
    holidays = await browser.get("/admin/settings/holidays")
    assert "12/25/2030" in holidays.text and "Christmas" in holidays.text
    nowhere = await browser.post("/admin/settings/holidays", data={"on_date": "2030-12-26"})
    assert nowhere.status_code == 422 and "choose the location that closes" in nowhere.text


async def test_appointment_types_are_created_edited_and_retired(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    browser, _qc = await _admin(app, session, clinic)
    url = "/admin/settings/appointment-types"
    created = await browser.post(
        url,
        data={
            "name": "Dressing",
            "duration_minutes": "20",
            "color": "#aa3300",
            "is_active": "true",
        },
    )
    assert created.status_code == 303
    kind = await session.scalar(select(AppointmentType).where(AppointmentType.name == "Dressing"))
    assert kind is not None and kind.duration_minutes == 20 and kind.is_active
    again = await browser.post(url, data={"name": "Dressing", "duration_minutes": "20"})
    assert again.status_code == 422
    assert "There is already an appointment type called 'Dressing'" in unescape(again.text)
    short = await browser.post(url, data={"name": "Blink", "duration_minutes": "3"})
    assert short.status_code == 422 and 'id="new-type-duration_minutes-error"' in short.text
    page = await browser.get(f"{url}/{kind.id}")
    version = _version(page.text, f"{url}/{kind.id}")
    saved = await browser.post(
        f"{url}/{kind.id}",
        data={"version": version, "name": "Dressing", "duration_minutes": "25", "color": "#aa3300"},
    )
    assert saved.status_code == 303
    await session.refresh(kind)
    assert (kind.duration_minutes, kind.is_active) == (25, False)  # unticked: retired
    assert "Inactive" in (await browser.get(url)).text
    stale = await browser.post(
        f"{url}/{kind.id}",
        data={
            "version": version,
            "name": "Dressing",
            "duration_minutes": "30",
            "is_active": "true",
        },
    )
    assert stale.status_code == 412 and "Someone else changed this record" in stale.text
    assert (await browser.get(f"{url}/{uuid.uuid4()}")).status_code == 404


async def test_booking_rules_are_saved_with_their_version(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    browser, _qc = await _admin(app, session, clinic)
    url = "/admin/settings/booking-rules"
    page = await browser.get(url)
    rules = {
        "min_notice_hours": "2",
        "max_days_ahead": "90",
        "cancel_window_hours": "12",
        "max_open_bookings": "4",
    }
    saved = await browser.post(url, data={**rules, "version": _version(page.text, url)})
    assert saved.status_code == 303
    page = await browser.get(url)
    assert 'value="90"' in page.text
    bad = await browser.post(
        url, data={**rules, "max_days_ahead": "0", "version": _version(page.text, url)}
    )
    assert bad.status_code == 422 and 'id="rules-max_days_ahead-error"' in bad.text
    stale = await browser.post(url, data={**rules, "version": "0"})
    assert stale.status_code == 412
    assert await _audited(session, "booking_policy.updated") == 1
