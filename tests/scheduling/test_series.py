"""Recurring series through the API on SQLite and PostgreSQL: preview, all-or-nothing
booking, skip_conflicts, cancel "following", move "all", daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.scheduling.schemas import HoursBlock, ProviderWrite, WeeklyHoursWrite
from clinicdesk.scheduling.service import setup
from tests.support.http import ANY_VERSION
from tests.support.identity import SignIn, create_user
from tests.support.scheduling import Book, at, request

NEW_YORK = ZoneInfo("America/New_York")


async def desk(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> httpx.AsyncClient:
    return await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))


def weekly(b: Book, start: str, count: int = 4, **extra: object) -> dict[str, object]:
    return request(b, start, rule={"frequency": "weekly", "count": count}, **extra)


async def other_patient_at(client: httpx.AsyncClient, b: Book, start: str) -> dict[str, Any]:
    body = request(b, start)
    body["patient_id"] = str(b.other_patient_id)
    response = await client.post("/api/v1/appointments", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def patients_appointments(client: httpx.AsyncClient, b: Book) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/appointments",
        params={
            "start": at(b.monday - timedelta(days=28), 0),
            "end": at(b.monday + timedelta(days=33), 0),
            "patient_id": str(b.patient_id),
        },
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_preview_lists_every_occurrence_and_what_is_in_the_way(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    week2 = book.monday + timedelta(days=7)
    blocker = await other_patient_at(client, book, at(week2, 10, 20))
    off = await client.post(
        "/api/v1/hours-exceptions",
        json={
            "provider_id": str(book.provider_id),
            "on_date": (book.monday + timedelta(days=14)).isoformat(),
            "kind": "off",
        },
    )
    assert off.status_code == 201, off.text

    preview = await client.post(
        "/api/v1/appointment-series/preview", json=weekly(book, at(book.monday, 10))
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert [o["starts_at"][:16] for o in body["occurrences"]] == [
        f"{book.monday + timedelta(days=7 * i)}T10:00" for i in range(4)
    ]
    assert [o["bookable"] for o in body["occurrences"]] == [True, False, False, True]
    conflict, closed = body["occurrences"][1], body["occurrences"][2]
    assert conflict["problem"] == "slot-taken"
    assert conflict["conflicting_ids"] == [blocker["id"]]
    assert blocker["id"] in conflict["detail"]
    assert "10:20" in conflict["detail"]
    assert closed["problem"] == "outside-hours"
    # A preview books nothing.
    assert await patients_appointments(client, book) == []


async def test_booking_a_series_is_all_or_nothing_unless_skipping_conflicts(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    blocker = await other_patient_at(client, book, at(book.monday + timedelta(days=14), 10))

    refused = await client.post(
        "/api/v1/appointment-series", json=weekly(book, at(book.monday, 10))
    )
    assert refused.status_code == 409, refused.text
    conflicts = refused.json()["conflicts"]
    assert len(conflicts) == 1
    assert conflicts[0]["conflicting_ids"] == [blocker["id"]]
    assert await patients_appointments(client, book) == []

    body = weekly(book, at(book.monday, 10), skip_conflicts=True)
    headers = {"Idempotency-Key": "series-1"}
    booked = await client.post("/api/v1/appointment-series", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    result = booked.json()
    assert len(result["booked"]) == 3
    assert [s["starts_at"][:10] for s in result["skipped"]] == [
        str(book.monday + timedelta(days=14))
    ]
    assert {a["series_id"] for a in result["booked"]} == {result["id"]}
    again = await client.post("/api/v1/appointment-series", json=body, headers=headers)
    assert again.json()["id"] == result["id"]
    assert len(await patients_appointments(client, book)) == 3


async def test_cancel_following_leaves_the_earlier_ones(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    booked = await client.post("/api/v1/appointment-series", json=weekly(book, at(book.monday, 9)))
    assert booked.status_code == 201, booked.text
    ids = [a["id"] for a in booked.json()["booked"]]

    cancelled = await client.post(
        f"/api/v1/appointments/{ids[1]}/series-cancel",
        json={"scope": "following", "reason": "Moving away"},
        headers=ANY_VERSION,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert [a["id"] for a in cancelled.json()["changed"]] == ids[1:]
    statuses = {a["id"]: a["status"] for a in await patients_appointments(client, book)}
    assert statuses == {
        ids[0]: "booked",
        ids[1]: "cancelled",
        ids[2]: "cancelled",
        ids[3]: "cancelled",
    }

    single = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 11)))
    not_series = await client.post(
        f"/api/v1/appointments/{single.json()['id']}/series-cancel",
        json={"scope": "all", "reason": "x y"},
        headers=ANY_VERSION,
    )
    assert not_series.status_code == 409


async def test_moving_all_shifts_every_future_occurrence_or_none(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    client = await desk(session, clinic, sign_in_api)
    # Some weeks in the past (recorded past visits), the others to come: the past is
    # never moved.
    first = book.monday - timedelta(days=21)
    booked = await client.post(
        "/api/v1/appointment-series",
        json=weekly(book, at(first, 10), count=6, record_past_visit=True),
    )
    assert booked.status_code == 201, booked.text
    ids = [a["id"] for a in booked.json()["booked"]]
    now = datetime.now(UTC)
    future = [
        a["id"] for a in booked.json()["booked"] if datetime.fromisoformat(a["starts_at"]) > now
    ]
    assert 3 <= len(future) < 6
    blocker = await other_patient_at(client, book, at(book.monday + timedelta(days=7), 11, 10))

    refused = await client.post(
        f"/api/v1/appointments/{ids[0]}/series-reschedule",
        json={"scope": "all", "shift_minutes": 60},
        headers=ANY_VERSION,
    )
    assert refused.status_code == 409, refused.text
    assert [c["conflicting_ids"] for c in refused.json()["conflicts"]] == [[blocker["id"]]]
    before = {a["id"]: a["starts_at"] for a in await patients_appointments(client, book)}
    assert all(before[i][11:16] == "10:00" for i in ids)

    moved = await client.post(
        f"/api/v1/appointments/{ids[0]}/series-reschedule",
        json={"scope": "all", "shift_minutes": -60},
        headers=ANY_VERSION,
    )
    assert moved.status_code == 200, moved.text
    assert [a["id"] for a in moved.json()["changed"]] == future
    after = {a["id"]: a["starts_at"] for a in await patients_appointments(client, book)}
    assert [after[i][11:16] for i in ids] == ["10:00"] * (6 - len(future)) + ["09:00"] * len(future)

    # "this" with a new time moves only this one.
    this = await client.post(
        f"/api/v1/appointments/{ids[4]}/series-reschedule",
        json={"scope": "this", "starts_at": at(book.monday + timedelta(days=8), 14)},
        headers=ANY_VERSION,
    )
    assert this.status_code == 200, this.text
    assert [a["starts_at"][:16] for a in this.json()["changed"]] == [
        f"{book.monday + timedelta(days=8)}T14:00"
    ]


def _monday_before_dst_change() -> date:
    """A future Monday whose next Monday is on the other side of a daylight saving change."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    day += timedelta(days=-day.weekday() % 7)
    while True:
        here = datetime.combine(day, time(10), tzinfo=NEW_YORK).utcoffset()
        there = datetime.combine(day + timedelta(days=7), time(10), tzinfo=NEW_YORK).utcoffset()
        if here != there:
            return day
        day += timedelta(days=7)


async def test_occurrences_keep_local_wall_time_across_daylight_saving(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn, book: Book
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR)
    await scope_to_tenant(session, clinic.id)
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Manhattan", time_zone="America/New_York")
    )
    provider = await setup.create_provider(
        session,
        actor=SYSTEM,
        data=ProviderWrite(user_id=doctor.id, display_name="Dr. York", location_ids=[location.id]),
    )
    blocks = [
        HoursBlock(location_id=location.id, weekday=d, start_time=time(8), end_time=time(17))
        for d in range(5)
    ]
    await setup.set_weekly_hours(
        session, actor=SYSTEM, provider_id=provider.id, data=WeeklyHoursWrite(blocks=blocks)
    )
    await session.commit()
    client = await desk(session, clinic, sign_in_api)
    monday = _monday_before_dst_change()
    first = datetime.combine(monday, time(10), tzinfo=NEW_YORK)
    body = weekly(book, first.isoformat(), count=3)
    body.update(provider_id=str(provider.id), location_id=str(location.id))

    booked = await client.post("/api/v1/appointment-series", json=body)
    assert booked.status_code == 201, booked.text
    starts = [datetime.fromisoformat(a["starts_at"]) for a in booked.json()["booked"]]
    assert [s.astimezone(NEW_YORK).time() for s in starts] == [time(10)] * 3
    assert starts[0].astimezone(UTC).hour != starts[1].astimezone(UTC).hour

    ids = [a["id"] for a in booked.json()["booked"]]
    moved = await client.post(
        f"/api/v1/appointments/{ids[0]}/series-reschedule",
        json={"scope": "all", "shift_minutes": 60},
        headers=ANY_VERSION,
    )
    assert moved.status_code == 200, moved.text
    shifted = [datetime.fromisoformat(a["starts_at"]) for a in moved.json()["changed"]]
    assert [s.astimezone(NEW_YORK).time() for s in shifted] == [time(11)] * 3
