"""The private .ics feed of a provider: issuing and revoking its link, what it contains
(no patient names), unknown links, and tenant isolation."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.scheduling.models import Provider
from clinicdesk.scheduling.service import feeds
from tests.scheduling.test_views import Desk, book_at, make_desk
from tests.support.identity import SignIn, create_org, create_user


@pytest.fixture
async def desk(session: AsyncSession, clinic: Organization) -> Desk:
    return await make_desk(session, clinic)


async def issue(session: AsyncSession, desk: Desk) -> str:
    secret = await feeds.issue_feed_token(session, actor=SYSTEM_ADMIN, provider_id=desk.provider_id)
    await session.commit()
    return secret


# The system acting with an administrator's right to manage any provider's feed.
SYSTEM_ADMIN = Actor(kind=ActorKind.SYSTEM, permissions=frozenset({Permission.ADMIN_SETTINGS}))


async def test_issue_stores_only_a_hash_and_a_new_link_revokes_the_old(
    session: AsyncSession, clinic: Organization, desk: Desk, client: httpx.AsyncClient
) -> None:
    clinic_id = clinic.id
    first = await issue(session, desk)
    assert len(first) >= 43  # 256 bits, URL-safe base64
    provider = await session.get(Provider, desk.provider_id)
    assert provider is not None and provider.feed_token_hash not in (None, first)
    assert (await client.get(f"/calendar/feeds/{first}.ics")).status_code == 200

    await scope_to_tenant(session, clinic_id)
    second = await issue(session, desk)
    assert (await client.get(f"/calendar/feeds/{first}.ics")).status_code == 404
    assert (await client.get(f"/calendar/feeds/{second}.ics")).status_code == 200

    await scope_to_tenant(session, clinic_id)
    await feeds.revoke_feed(session, actor=SYSTEM_ADMIN, provider_id=desk.provider_id)
    await session.commit()
    assert (await client.get(f"/calendar/feeds/{second}.ics")).status_code == 404
    await scope_to_tenant(session, clinic_id)
    actions = set(
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == str(desk.provider_id))
        )
    )
    assert {"provider.feed_issued", "provider.feed_revoked"} <= actions


async def test_the_feed_parses_and_names_no_patient(
    session: AsyncSession, clinic: Organization, desk: Desk, client: httpx.AsyncClient
) -> None:
    clinic_id = clinic.id
    booked = await book_at(session, desk, 9, desk.patient_id)
    await scope_to_tenant(session, clinic_id)
    secret = await issue(session, desk)
    response = await client.get(f"/calendar/feeds/{secret}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "Viewer" not in response.text and "Ann" not in response.text
    calendar = Calendar.from_ical(response.text)
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"{booked}@clinicdesk"]
    event = events[0]
    assert str(event["SUMMARY"]) == "Consultation"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART").utcoffset().total_seconds() == 0  # UTC
    assert str(event["LOCATION"]) == "Main"


async def test_unknown_token_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/calendar/feeds/not-a-real-token-at-all-x.ics")).status_code == 404
    assert (await client.get("/calendar/feeds/short.ics")).status_code == 404


async def test_another_organizations_appointments_never_appear(
    session: AsyncSession, clinic: Organization, desk: Desk, client: httpx.AsyncClient
) -> None:
    await book_at(session, desk, 9, desk.patient_id)
    other = await create_org(session, "Clinic B", mfa_required_for_admins=False)
    other_id = other.id
    theirs = await make_desk(session, other)
    await scope_to_tenant(session, other_id)
    await book_at(session, theirs, 10, theirs.patient_id)
    await scope_to_tenant(session, other_id)
    secret = await issue(session, theirs)
    calendar = Calendar.from_ical((await client.get(f"/calendar/feeds/{secret}.ics")).text)
    starts = [e.decoded("DTSTART") for e in calendar.walk("VEVENT")]
    assert len(starts) == 1
    assert starts[0].astimezone(ZoneInfo("America/New_York")).hour == 10


async def test_only_the_provider_or_an_admin_manages_the_link(
    session: AsyncSession, clinic: Organization, desk: Desk, sign_in_web: SignIn
) -> None:
    desk_user = await sign_in_web(await create_user(session, clinic, Role.RECEPTIONIST))
    refused = await desk_user.post(f"/calendar/feed-links/{desk.provider_id}")
    assert refused.status_code == 403
    page = await desk_user.get("/calendar/feed-links")
    assert "You have no provider schedule" in page.text

    doctor = await sign_in_web(desk.doctor)
    made = await doctor.post(
        f"/calendar/feed-links/{desk.provider_id}", headers={"HX-Request": "true"}
    )
    assert made.status_code == 200
    assert "/calendar/feeds/" in made.text and "Revoke link" in made.text
    revoked = await doctor.post(
        f"/calendar/feed-links/{desk.provider_id}/revoke", headers={"HX-Request": "true"}
    )
    assert "no longer works" in revoked.text
