"""Which room a call sends the patient to: one of the location's rooms, by default the
room the provider called to last there (kept on the server), never "no room" while the
location has rooms."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.permissions import Permission
from clinicdesk.identity.models import Location, Organization
from clinicdesk.queue.errors import RoomUnknown
from clinicdesk.queue.schemas import WalkInCheckIn
from clinicdesk.queue.service import checkin, flow, rooms
from tests.queue.conftest import Staff
from tests.support.queue import QueueClinic, make_queue_clinic

ANY_VERSION = {"If-Match": "*"}


def _doctor(qc: QueueClinic) -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        organization_id=qc.organization_id,
        user_id=qc.user_ids["doctor"],
        permissions=frozenset({Permission.QUEUE_WRITE}),
    )


async def _walk_in(
    session: AsyncSession, qc: QueueClinic, n: int, provider_id: uuid.UUID
) -> uuid.UUID:
    visit, _secret = await checkin.check_in_walk_in(
        session,
        actor=_doctor(qc),
        data=WalkInCheckIn(
            patient_id=qc.patient_ids[n], location_id=qc.location_id, provider_id=provider_id
        ),
    )
    return visit.id


async def _call(
    session: AsyncSession, qc: QueueClinic, visit_id: uuid.UUID, room: str | None
) -> str | None:
    called = await flow.call(session, actor=_doctor(qc), visit_id=visit_id, room=room)
    return called.room


async def test_a_call_without_a_room_goes_to_the_providers_last_room_here(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=4)
    ada, bo = qc.provider_id, qc.other_provider_id
    first = await _walk_in(session, qc, 0, ada)
    # Nothing remembered yet: the location's first room, not the front desk.
    assert await _call(session, qc, first, None) == "Room 1"
    # A room is matched without regard to case, and remembered as the location spells it.
    assert await _call(session, qc, first, "room 3") == "Room 3"
    remembered = await rooms.remembered_rooms(
        session, location_id=qc.location_id, provider_ids=[ada, bo]
    )
    assert remembered == {ada: "Room 3"}
    second = await _walk_in(session, qc, 1, ada)
    assert await _call(session, qc, second, None) == "Room 3"
    # Another provider has a room of their own.
    theirs = await _walk_in(session, qc, 2, bo)
    assert await _call(session, qc, theirs, None) == "Room 1"
    assert await _call(session, qc, theirs, "Room 5") == "Room 5"
    remembered = await rooms.remembered_rooms(
        session, location_id=qc.location_id, provider_ids=[ada, bo]
    )
    assert remembered == {ada: "Room 3", bo: "Room 5"}


async def test_a_room_the_location_does_not_have_is_refused_with_the_choices(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=2)
    visit = await _walk_in(session, qc, 0, qc.provider_id)
    with pytest.raises(RoomUnknown) as refused:
        await _call(session, qc, visit, "Broom cupboard")
    assert refused.value.status_code == 409
    assert "Choose one of: Room 1, Room 2, Room 3, Room 4, Room 5" in refused.value.detail
    # A remembered room the location no longer has is passed over.
    await _call(session, qc, visit, "Room 4")
    location = await session.get(Location, qc.location_id)
    assert location is not None
    location.rooms = ["Room 1", "Room 2"]
    await session.flush()
    other = await _walk_in(session, qc, 1, qc.provider_id)
    assert await _call(session, qc, other, None) == "Room 1"


async def test_a_location_without_rooms_says_where_they_are_set_up(
    session: AsyncSession, clinic: Organization
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=1)
    location = await session.get(Location, qc.location_id)
    assert location is not None
    location.rooms = []
    await session.flush()
    visit = await _walk_in(session, qc, 0, qc.provider_id)
    with pytest.raises(RoomUnknown) as refused:
        await _call(session, qc, visit, "Room 3")
    assert "/admin/settings/rooms" in refused.value.detail
    assert await _call(session, qc, visit, None) is None


async def test_the_api_call_falls_back_to_the_remembered_room(
    session: AsyncSession, qc: QueueClinic, staff: Staff
) -> None:
    doctor = await staff.as_("doctor")
    ids = [await _walk_in(session, qc, n, qc.provider_id) for n in range(2)]
    await session.commit()
    first = await doctor.post(
        f"/api/v1/queue/visits/{ids[0]}/call", json={"room": "Room 2"}, headers=ANY_VERSION
    )
    assert first.status_code == 200, first.text
    second = await doctor.post(f"/api/v1/queue/visits/{ids[1]}/call", json={}, headers=ANY_VERSION)
    assert (second.status_code, second.json()["room"]) == (200, "Room 2")
    unknown = await doctor.post(
        f"/api/v1/queue/visits/{ids[1]}/call", json={"room": "Room 9"}, headers=ANY_VERSION
    )
    assert unknown.status_code == 409
    assert "has no room 'Room 9'" in unknown.json()["detail"]
