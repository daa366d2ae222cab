"""Settings → Rooms: an admin adds and removes a location's rooms one at a time, each
against the version the page showed, audited as a change of the location; the queue
screens then offer exactly these rooms."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.identity.models import Location, Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from tests.support.identity import browser_as, create_user

PAGE = "/admin/settings/rooms"

# Once, on SQLite: a page over a JSON column, no SQL of one dialect.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _version(page: str, action: str) -> str:
    found = re.search(rf'action="{re.escape(action)}".*?name="version" value="(\d+)"', page, re.S)
    assert found is not None, action
    return found.group(1)


async def test_rooms_are_added_and_removed_one_at_a_time(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    admin = await browser_as(app, session, await create_user(session, clinic, Role.ADMIN))
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Hilltop")
    )
    await session.commit()
    add = f"{PAGE}/{location.id}"
    page = await admin.get(PAGE)
    assert page.status_code == 200
    assert "No rooms yet: until there is one, a call sends the patient to the front desk" in (
        page.text
    )
    added = await admin.post(add, data={"name": " Room 1 ", "version": _version(page.text, add)})
    assert added.status_code == 303
    page = await admin.get(PAGE)
    # The same room again (in other letters), a name too long for the screens, an old page.
    twice = await admin.post(add, data={"name": "room 1", "version": _version(page.text, add)})
    assert twice.status_code == 409
    assert "Hilltop already has a room called 'room 1'" in unescape(twice.text)
    long = await admin.post(add, data={"name": "R" * 41, "version": _version(page.text, add)})
    assert long.status_code == 422
    assert f'id="{location.id}-name-error"' in long.text
    stale = await admin.post(add, data={"name": "Room 2", "version": "1"})
    assert stale.status_code == 412
    assert "Someone else changed this record" in stale.text
    await admin.post(add, data={"name": "Room 2", "version": _version(page.text, add)})
    await session.refresh(location)
    assert location.rooms == ["Room 1", "Room 2"]
    page = await admin.get(PAGE)
    remove = f"{PAGE}/{location.id}/remove"
    removed = await admin.post(
        remove, data={"name": "Room 1", "version": _version(page.text, remove)}
    )
    assert removed.status_code == 303
    page = await admin.get(PAGE)
    gone = await admin.post(remove, data={"name": "Room 1", "version": _version(page.text, add)})
    assert gone.status_code == 409 and "has no room" in gone.text
    refreshed = await session.get(Location, location.id)
    assert refreshed is not None
    await session.refresh(refreshed)
    assert refreshed.rooms == ["Room 2"]

    desk = await browser_as(app, session, await create_user(session, clinic, Role.RECEPTIONIST))
    assert (await desk.get(PAGE)).status_code == 403
    assert (await desk.post(add, data={"name": "X", "version": "9"})).status_code == 403
