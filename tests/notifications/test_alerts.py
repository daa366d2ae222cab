"""The staff's in-app alerts on SQLite and PostgreSQL: a user's and a role's alerts
counted and listed for their recipients only, read one by one or all at once, another
organization's and a restricted patient's kept away, the waitlist and results raising
theirs, the live event after commit, and the pages (bell, list, open, mark all read)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import LIVE_PUBLISHERS
from clinicdesk.audit.models import AuditEvent
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import unit_of_work
from clinicdesk.core.events import Event, EventBroker, publish_after_commit
from clinicdesk.core.live import Listener
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.identity.service.common import actor_for
from clinicdesk.notifications.alert_models import StaffAlert
from clinicdesk.notifications.alert_schemas import RAISED, READ, AlertKind
from clinicdesk.notifications.service import alerts
from clinicdesk.patients.models import Patient
from clinicdesk.patients.service import restricted
from clinicdesk.web.live import build_rules
from tests.core.test_events import events_until
from tests.core.test_events import received as received
from tests.support.identity import SignIn, create_org, create_user
from tests.support.patients import register_patient
from tests.support.queue import make_queue_clinic
from tests.support.scheduling import at, make_book, request


async def _patient(session: AsyncSession, clinic: Organization, name: str = "Ann") -> uuid.UUID:
    await scope_to_tenant(session, clinic.id)
    patient = await register_patient(
        session, given_name=name, family_name="Alert", birth_date=date(1970, 2, 3)
    )
    await session.commit()
    return patient.id


async def _notify(
    session: AsyncSession, clinic: Organization | uuid.UUID, **kwargs: Any
) -> uuid.UUID:
    await scope_to_tenant(session, clinic if isinstance(clinic, uuid.UUID) else clinic.id)
    kwargs.setdefault("kind", AlertKind.NOTICE)
    kwargs.setdefault("title", "Something to look at")
    alert_id = await alerts.notify_staff(session, **kwargs)
    await session.commit()
    return alert_id


async def _unread(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/v1/alerts/unread-count")
    assert response.status_code == 200, response.text
    count: int = response.json()["unread"]
    return count


async def _listed(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_users_alert_and_a_roles_alert_reach_their_recipients_only(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    doctor = await create_user(session, clinic, Role.DOCTOR)
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    other_desk = await create_user(session, clinic, Role.RECEPTIONIST)
    billing = await create_user(session, clinic, Role.BILLING)
    for_doctor = await _notify(session, clinic, user_id=doctor.id, title="For the doctor")
    for_desk = await _notify(
        session,
        clinic,
        role=Role.RECEPTIONIST.value,
        kind=AlertKind.PATIENT_REPLIED,
        title="Front desk",
        body="A reply nobody understood.",
        link="/calendar",
    )
    doctor_api, desk_api, other_api, billing_api = [
        await sign_in_api(u) for u in (doctor, desk, other_desk, billing)
    ]
    assert [await _unread(c) for c in (doctor_api, desk_api, other_api, billing_api)] == [
        1,
        1,
        1,
        0,
    ]
    [mine] = await _listed(desk_api)
    assert mine["id"] == str(for_desk)
    assert (mine["kind"], mine["title"], mine["body"], mine["link"]) == (
        "patient_replied",
        "Front desk",
        "A reply nobody understood.",
        "/calendar",
    )
    assert mine["read_at"] is None
    assert [a["id"] for a in await _listed(doctor_api)] == [str(for_doctor)]

    # A role's alert is read per person: the other receptionist still has it unread.
    read = await desk_api.post(f"/api/v1/alerts/{for_desk}/read")
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    again = await desk_api.post(f"/api/v1/alerts/{for_desk}/read")
    assert again.json()["read_at"] == read.json()["read_at"]  # read once, when first read
    assert await _unread(desk_api) == 0
    assert await _unread(other_api) == 1
    assert await _listed(desk_api, unread="true") == []
    assert [a["id"] for a in await _listed(desk_api)] == [str(for_desk)]
    # Someone else's alert is not there for them.
    refused = await billing_api.post(f"/api/v1/alerts/{for_doctor}/read")
    assert refused.status_code == 404
    assert await _unread(doctor_api) == 1


async def test_a_role_alert_reaches_who_holds_the_role_then_and_still(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    nurse = await create_user(session, clinic, Role.NURSE)
    await _notify(session, clinic, role=Role.NURSE.value)
    later = await create_user(session, clinic, Role.NURSE)
    assert await _unread(await sign_in_api(later)) == 0  # for who was on duty
    await scope_to_tenant(session, clinic.id)
    nurse.roles = [Role.DOCTOR.value]  # no longer a nurse: the nurses' alerts go
    await session.commit()
    assert await _unread(await sign_in_api(nurse)) == 0


async def test_mark_all_read_and_the_list_pages_newest_first(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    ids = [await _notify(session, clinic, user_id=desk.id, title=f"No. {n}") for n in range(5)]
    client = await sign_in_api(desk)
    assert await _unread(client) == 5
    first = await client.get("/api/v1/alerts", params={"limit": "2"})
    page = first.json()
    assert [a["id"] for a in page["items"]] == [str(i) for i in reversed(ids[-2:])]
    second = await client.get(
        "/api/v1/alerts", params={"limit": "2", "cursor": page["next_cursor"]}
    )
    assert [a["id"] for a in second.json()["items"]] == [str(ids[2]), str(ids[1])]
    bad = await client.get("/api/v1/alerts", params={"cursor": "!!"})
    assert bad.status_code == 400

    marked = await client.post("/api/v1/alerts/read-all")
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 5}
    assert await _unread(client) == 0
    assert (await client.post("/api/v1/alerts/read-all")).json() == {"marked": 0}


async def test_another_organizations_alerts_are_not_there(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    other = await create_org(session, "Elsewhere", mfa_required_for_admins=False)
    theirs = await create_user(session, other, Role.RECEPTIONIST)
    their_alert = await _notify(session, other, role=Role.RECEPTIONIST.value, title="B only")
    their_api = await sign_in_api(theirs)
    mine = await create_user(session, clinic, Role.RECEPTIONIST)
    client = await sign_in_api(mine)
    assert await _unread(client) == 0
    assert await _listed(client) == []
    assert (await client.post(f"/api/v1/alerts/{their_alert}/read")).status_code == 404
    assert (await client.post("/api/v1/alerts/read-all")).json() == {"marked": 0}
    assert await _unread(their_api) == 1
    # Raising an alert for another organization's user is refused.
    await scope_to_tenant(session, clinic.id)
    with pytest.raises(Exception, match="no such user"):
        await alerts.notify_staff(session, kind=AlertKind.NOTICE, title="x", user_id=theirs.id)
    await session.rollback()


async def test_a_restricted_patients_alerts_reach_only_those_the_record_is_open_to(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    carer = await create_user(session, clinic, Role.DOCTOR)
    colleague = await create_user(session, clinic, Role.DOCTOR)
    patient_id = await _patient(session, clinic, "Vip")
    alert_id = await _notify(
        session, clinic, role=Role.DOCTOR.value, title="Vip's result", patient_id=patient_id
    )
    await _notify(session, clinic, role=Role.DOCTOR.value, title="About nobody")
    await scope_to_tenant(session, clinic.id)
    patient = await session.get_one(Patient, patient_id)
    await restricted.set_restricted(
        session, actor=actor_for(carer), patient=patient, restricted=True
    )
    await session.commit()
    on_call = actor_for(colleague)
    carer_api, colleague_api = await sign_in_api(carer), await sign_in_api(colleague)
    assert await _unread(carer_api) == 2
    assert await _unread(colleague_api) == 1
    assert [a["title"] for a in await _listed(colleague_api)] == ["About nobody"]
    assert (await colleague_api.post(f"/api/v1/alerts/{alert_id}/read")).status_code == 404
    assert (await colleague_api.post("/api/v1/alerts/read-all")).json() == {"marked": 1}
    # An emergency grant opens the record, and its alert with it.
    await scope_to_tenant(session, on_call.organization_id)  # type: ignore[arg-type]
    patient = await session.get_one(Patient, patient_id, populate_existing=True)
    await restricted.break_glass(
        session,
        actor=on_call,
        patient=patient,
        reason="Unconscious in the waiting room",
        minutes=30,
    )
    await session.commit()
    assert await _unread(colleague_api) == 1


async def test_a_list_naming_patients_is_recorded_as_a_read(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    patient_id = await _patient(session, clinic)
    await _notify(
        session, clinic, user_id=desk.id, title="Ann Alert replied", patient_id=patient_id
    )
    response = await (await sign_in_api(desk)).get("/api/v1/alerts")
    assert response.status_code == 200
    await scope_to_tenant(session, clinic.id)
    entries = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == response.headers["X-Request-ID"])
        )
    ).all()
    assert [(e.action, (e.details or {}).get("patient_ids")) for e in entries] == [
        ("patient.listed", [str(patient_id)])
    ]


async def test_an_accepted_waitlist_offer_tells_the_front_desk(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    book = await make_book(session, clinic)
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    other_desk = await create_user(session, clinic, Role.RECEPTIONIST)
    doctor = await create_user(session, clinic, Role.DOCTOR)
    client = await sign_in_api(desk)
    booked = await client.post("/api/v1/appointments", json=request(book, at(book.monday, 10)))
    assert booked.status_code == 201, booked.text
    waiting = await client.post(
        "/api/v1/waitlist",
        json={
            "patient_id": str(book.other_patient_id),
            "type_id": str(book.type_id),
            "location_id": str(book.location_id),
            "earliest": book.monday.isoformat(),
            "latest": (book.monday + timedelta(days=4)).isoformat(),
        },
    )
    assert waiting.status_code == 201, waiting.text
    cancelled = await client.post(
        f"/api/v1/appointments/{booked.json()['id']}/cancel",
        json={"reason": "Patient called"},
        headers={"If-Match": "*"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert await _unread(client) == 0  # an offer is not yet a taken slot

    accepted = await client.post(f"/api/v1/waitlist/{waiting.json()['id']}/accept")
    assert accepted.status_code == 201, accepted.text
    appointment_id = accepted.json()["appointment"]["id"]
    for receptionist in (client, await sign_in_api(other_desk)):
        [alert] = await _listed(receptionist)
        assert alert["kind"] == "waitlist_slot_taken"
        assert alert["title"] == "Waitlist slot taken: Ben Book"
        assert alert["link"] == f"/calendar/appointments/{appointment_id}"
        assert alert["patient_id"] == str(book.other_patient_id)
    assert await _unread(await sign_in_api(doctor)) == 0


async def _order(doctor: httpx.AsyncClient, patient_id: uuid.UUID) -> dict[str, Any]:
    opened = await doctor.post(
        "/api/v1/encounters", json={"patient_id": str(patient_id), "kind": "phone"}
    )
    assert opened.status_code == 201, opened.text
    placed = await doctor.post(
        f"/api/v1/encounters/{opened.json()['id']}/orders",
        json={"name": "Potassium", "kind": "lab"},
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    return order


async def _enter(client: httpx.AsyncClient, order: dict[str, Any], value: str) -> None:
    entered = await client.post(
        f"/api/v1/orders/{order['id']}/results",
        json={"results": [{"value_numeric": value, "reference_low": "3.5"}]},
        headers={"If-Match": "*"},
    )
    assert entered.status_code == 201, entered.text


async def test_results_entered_by_someone_else_tell_the_doctor_who_ordered(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    qc = await make_queue_clinic(session, clinic, patients=1)
    ordering, covering = [
        await session.get_one(User, qc.user_ids[who]) for who in ("doctor", "other_doctor")
    ]
    [patient_id] = qc.patient_ids
    ordering_api, covering_api = await sign_in_api(ordering), await sign_in_api(covering)
    order = await _order(ordering_api, patient_id)
    await _enter(covering_api, order, "2.1")
    [alert] = await _listed(ordering_api)
    assert alert["kind"] == "result_to_review"
    assert alert["title"] == "Abnormal result to review: Potassium — Ann Queuea"
    assert alert["link"] == f"/orders/{order['id']}"
    assert alert["patient_id"] == str(patient_id)
    assert await _unread(covering_api) == 0
    # Results the ordering doctor enters themselves raise nothing.
    own = await _order(ordering_api, patient_id)
    await _enter(ordering_api, own, "4.0")
    assert await _unread(ordering_api) == 1


async def test_a_raised_alert_is_published_after_commit_only(
    session: AsyncSession, clinic: Organization, received: EventBroker
) -> None:
    desk_id, clinic_id = (await create_user(session, clinic, Role.RECEPTIONIST)).id, clinic.id

    async def failing_change() -> None:
        async with unit_of_work(session):
            await scope_to_tenant(session, clinic_id)
            await alerts.notify_staff(session, kind="notice", title="lost", user_id=desk_id)
            raise RuntimeError("the producer's change failed")

    with received.subscribe() as subscription:
        with pytest.raises(RuntimeError):
            await failing_change()
        async with unit_of_work(session):
            await scope_to_tenant(session, clinic_id)
            kept = await alerts.notify_staff(
                session, kind="notice", title="kept", role=Role.RECEPTIONIST.value
            )
            assert len(subscription) == 0  # not before the commit
        marker = Event(organization_id=clinic_id, type="test.marker", data={})
        async with unit_of_work(session):
            publish_after_commit(session, marker)
        arrived = [e for e in await events_until(subscription, marker) if e.type == RAISED]
    assert [(e.organization_id, e.data) for e in arrived] == [
        (clinic_id, {"alert_id": str(kept), "role": "receptionist"})
    ]
    await scope_to_tenant(session, clinic_id)
    titles = await session.scalars(select(StaffAlert.title))
    assert list(titles) == ["kept"]


def test_the_live_event_reaches_the_addressed_user_or_role_only() -> None:
    select_for = build_rules(LIVE_PUBLISHERS).selector
    org, me, someone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def staff(*roles: str, user: uuid.UUID = me) -> Listener:
        return Listener(organization_id=org, kind="staff", user_id=user, roles=frozenset(roles))

    mine = Event(organization_id=org, type=RAISED, data={"alert_id": "x", "user_id": str(me)})
    desks = Event(organization_id=org, type=RAISED, data={"alert_id": "x", "role": "receptionist"})
    read = Event(organization_id=org, type=READ, data={"user_id": str(me)})
    elsewhere = Event(organization_id=uuid.uuid4(), type=RAISED, data={"user_id": str(me)})
    assert select_for(staff("doctor"))(mine) == (RAISED, {})
    assert select_for(staff("doctor", user=someone))(mine) is None
    assert select_for(staff("receptionist", user=someone))(desks) == (RAISED, {})
    assert select_for(staff("doctor"))(desks) is None
    assert select_for(staff())(read) == (READ, {})
    assert select_for(staff("doctor"))(elsewhere) is None
    patient = Listener(organization_id=org, kind="patient", patient_id=uuid.uuid4())
    display = Listener(organization_id=org, kind="display", location_id=uuid.uuid4())
    assert select_for(patient)(mine) is None
    assert select_for(display)(desks) is None


async def test_old_alerts_are_purged_when_the_next_one_is_raised(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    old = await _notify(session, clinic, user_id=desk.id, title="old")
    await scope_to_tenant(session, clinic.id)
    (await session.get_one(StaffAlert, old)).created_at = utcnow() - timedelta(
        days=alerts.KEEP_DAYS + 1
    )
    await session.commit()
    new = await _notify(session, clinic, user_id=desk.id, title="new")
    await scope_to_tenant(session, clinic.id)
    assert list(await session.scalars(select(StaffAlert.id))) == [new]
    count = await alerts.unread_count(session, actor=actor_for(desk))
    assert count == 1


async def test_an_alerts_link_is_a_path_of_this_site(
    session: AsyncSession, clinic: Organization
) -> None:
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    await scope_to_tenant(session, clinic.id)
    for link in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        with pytest.raises(ValueError, match="path of this site"):
            await alerts.notify_staff(session, kind="notice", title="x", user_id=desk.id, link=link)
    with pytest.raises(ValueError, match="exactly one"):
        await alerts.notify_staff(
            session, kind="notice", title="x", user_id=desk.id, role="receptionist"
        )
    assert await session.scalar(select(func.count()).select_from(StaffAlert)) == 0


# --- the pages --------------------------------------------------------------------------


@pytest.fixture
async def desk_browser(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> tuple[User, httpx.AsyncClient]:
    desk = await create_user(session, clinic, Role.RECEPTIONIST)
    return desk, await sign_in_web(desk)


async def test_the_bell_the_list_opening_one_and_mark_all_read(
    session: AsyncSession, clinic: Organization, desk_browser: tuple[User, httpx.AsyncClient]
) -> None:
    desk, browser = desk_browser
    # Captured now: a refused or redirected request rolls the shared session back.
    desk_id, clinic_id = desk.id, clinic.id
    home = await browser.get("/")
    assert 'id="alert-bell"' in home.text
    assert 'hx-get="/alerts/bell"' in home.text
    empty = await browser.get("/alerts")
    assert "No alerts yet." in empty.text
    assert "Mark all read" not in empty.text
    bell = await browser.get("/alerts/bell", headers={"HX-Request": "true"})
    assert 'class="alert-count"' not in bell.text
    assert "none unread" in bell.text
    # Opened directly (a reload), the fragment's address leads to the page.
    direct = await browser.get("/alerts/bell")
    assert (direct.status_code, direct.headers["location"]) == (303, "/alerts")

    first = await _notify(
        session, clinic_id, user_id=desk_id, title="Go to the calendar", link="/calendar"
    )
    await _notify(session, clinic_id, role=Role.RECEPTIONIST.value, title="Second one")
    bell = await browser.get("/alerts/bell", headers={"HX-Request": "true"})
    assert '<span class="alert-count" data-alert-count>2</span>' in bell.text
    page = await browser.get("/alerts")
    assert page.text.index("Second one") < page.text.index("Go to the calendar")  # newest first
    assert page.text.count('class="alert-item alert-unread"') == 2
    assert "2 unread" in page.text

    opened = await browser.get(f"/alerts/{first}")
    assert (opened.status_code, opened.headers["location"]) == (303, "/calendar")
    page = await browser.get("/alerts")
    assert page.text.count('class="alert-item alert-unread"') == 1
    assert "1 unread" in page.text

    done = await browser.post("/alerts/read-all")
    assert (done.status_code, done.headers["location"]) == (303, "/alerts")
    page = await browser.get("/alerts")
    assert "1 alert marked read." in page.text
    assert "alert-unread" not in page.text
    assert "Nothing unread." in (await browser.get("/alerts?unread=true")).text
    assert (await browser.get(f"/alerts/{uuid.uuid4()}")).status_code == 404


async def test_a_patient_in_the_portal_has_no_bell_and_no_alerts(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> None:
    patient_id = await _patient(session, clinic)
    await scope_to_tenant(session, clinic.id)
    portal = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Ann Alert",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient_id,
    )
    await session.commit()
    browser = await sign_in_web(portal)
    assert (await browser.get("/alerts")).status_code == 403
    home = await browser.get("/portal")
    assert home.status_code == 200
    assert "alert-bell" not in home.text


async def test_no_bell_while_a_sign_in_step_is_owed(
    session: AsyncSession, sign_in_web: SignIn
) -> None:
    """An administrator who must still set up two-factor authentication sees the set-up
    page with the header, but no bell: it would only be refused."""
    strict = await create_org(session, "Strict clinic")  # MFA required for admins
    admin = await create_user(session, strict, Role.ADMIN)
    browser = await sign_in_web(admin)
    page = await browser.get("/account/mfa")
    assert page.status_code == 200
    assert "Two-factor authentication" in page.text
    assert "alert-bell" not in page.text
    assert (await browser.get("/alerts")).status_code in (303, 403)
