"""The audit report over HTTP: who may read it, filters, order, pages, the CSV export and
the admin page (whole or as an htmx block, times in the organization's zone)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.audit.models import AuditEvent, Outcome
from clinicdesk.audit.report import CSV_COLUMNS
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import OrganizationUpdate
from clinicdesk.identity.service import organizations
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import SignIn, create_org, create_user

EVENTS = "/api/v1/audit-events"
EXPORT = "/api/v1/audit-events/export.csv"
PAGE = "/admin/audit"
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def admin(session: AsyncSession, clinic: Organization) -> User:
    return await create_user(session, clinic, Role.ADMIN)


@pytest.fixture
async def doctor(session: AsyncSession, clinic: Organization) -> User:
    return await create_user(session, clinic, Role.DOCTOR)


@pytest.fixture
async def admin_api(session: AsyncSession, admin: User, sign_in_api: SignIn) -> httpx.AsyncClient:
    client = await sign_in_api(admin)
    # The set-up so far survives a request that fails and rolls its own work back.
    await session.commit()
    return client


async def record(session: AsyncSession, organization: Organization, **entry: Any) -> AuditEvent:
    """An entry in ``organization``'s trail."""
    await scope_to_tenant(session, organization.id)
    return await audit.record(session, **entry)


async def record_at(
    session: AsyncSession,
    organization: Organization,
    when: datetime,
    monkeypatch: pytest.MonkeyPatch,
    **entry: Any,
) -> AuditEvent:
    """An entry stamped with a chosen time instead of now."""
    with monkeypatch.context() as patch:
        patch.setattr(audit, "utcnow", lambda: when)
        return await record(session, organization, **entry)


async def items(client: httpx.AsyncClient, **params: str | int) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


# --- access ----------------------------------------------------------------------------


async def test_an_admin_reads_the_trail_of_their_organization_only(
    session: AsyncSession, clinic: Organization, admin: User, admin_api: httpx.AsyncClient
) -> None:
    other = await create_org(session, "Elsewhere", mfa_required_for_admins=False)
    await record(session, other, action="test.elsewhere")
    await record(session, clinic, action="test.here", actor=actor_for(admin))

    response = await admin_api.get(EVENTS)

    assert response.status_code == 200
    body = response.json()
    actions = {item["action"] for item in body["items"]}
    assert {"organization.created", "user.created", "test.here"} <= actions
    assert "test.elsewhere" not in actions
    assert {item["organization_id"] for item in body["items"]} == {str(clinic.id)}
    assert body["next_cursor"] is None


async def test_a_doctor_is_refused_with_a_problem_that_shows_no_trail(
    session: AsyncSession,
    clinic: Organization,
    doctor: User,
    sign_in_api: SignIn,
) -> None:
    patient_id = uuid.uuid4()
    await record(
        session, clinic, action="test.chart_viewed", patient_id=patient_id, resource_id="chart-17"
    )
    client = await sign_in_api(doctor)
    doctor_id, doctor_email, clinic_id = doctor.id, doctor.email, clinic.id
    await session.commit()

    response = await client.get(EVENTS)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 403
    assert problem["type"] == "urn:clinicdesk:problem:forbidden"
    assert problem["permission"] == "audit:read"
    assert "items" not in problem
    for leaked in (str(patient_id), "chart-17", "test.chart_viewed", doctor_email):
        assert leaked not in response.text

    # The refusal itself is on the record, although the request rolled back.
    await scope_to_tenant(session, clinic_id)
    denied = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "auth.permission_denied",
                AuditEvent.actor_user_id == doctor_id,
            )
        )
    ).scalar_one()
    assert denied.outcome == "denied"
    assert denied.details == {"permission": "audit:read", "route": EVENTS}


async def test_viewing_the_report_is_itself_recorded(
    session: AsyncSession, clinic: Organization, admin: User, admin_api: httpx.AsyncClient
) -> None:
    response = await admin_api.get(EVENTS, params={"action": "user.created", "outcome": "success"})
    assert response.status_code == 200

    await scope_to_tenant(session, clinic.id)
    viewed = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "audit.viewed")))
        .scalars()
        .all()
    )
    assert len(viewed) == 1
    assert viewed[0].actor_user_id == admin.id
    assert viewed[0].details == {
        "action": "user.created",
        "outcome": "success",
        "sort": "occurred_at",
        "order": "desc",
    }
    # The report shows the viewing.
    shown = await items(admin_api, action="audit.viewed")
    assert [(i["actor_user_id"], i["details"]) for i in shown] == [
        (str(admin.id), viewed[0].details)
    ]


# --- filters, order, pages -------------------------------------------------------------


async def test_filters_by_action_outcome_and_user(
    session: AsyncSession,
    clinic: Organization,
    admin: User,
    doctor: User,
    admin_api: httpx.AsyncClient,
) -> None:
    by_doctor = actor_for(doctor)
    by_admin = actor_for(admin)
    await record(session, clinic, action="test.a", actor=by_doctor, resource_id="1")
    await record(
        session, clinic, action="test.a", actor=by_doctor, outcome=Outcome.DENIED, resource_id="2"
    )
    await record(session, clinic, action="test.a", actor=by_admin, resource_id="3")
    await record(session, clinic, action="test.b", actor=by_doctor, resource_id="4")

    def ids(found: list[dict[str, Any]]) -> set[str]:
        return {item["resource_id"] for item in found}

    assert ids(await items(admin_api, action="test.a")) == {"1", "2", "3"}
    assert ids(await items(admin_api, action="test.a", outcome="denied")) == {"2"}
    assert ids(await items(admin_api, user_id=str(doctor.id))) == {"1", "2", "4"}
    assert ids(await items(admin_api, user_id=str(doctor.id), action="test.a")) == {"1", "2"}
    assert ids(await items(admin_api, user_id=str(admin.id), action="test.a")) == {"3"}
    assert await items(admin_api, action="test.a", outcome="failure") == []


async def test_the_time_window_honours_explicit_offsets(
    session: AsyncSession,
    clinic: Organization,
    admin_api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for hour in (9, 10, 12, 14):
        await record_at(
            session,
            clinic,
            datetime(2020, 1, 1, hour, tzinfo=UTC),
            monkeypatch,
            action="test.window",
            resource_id=f"{hour:02d}Z",
        )

    async def window(since: str, until: str) -> list[str]:
        found = await items(admin_api, action="test.window", since=since, until=until)
        return sorted(item["resource_id"] for item in found)

    # 11:00+01:00 is 10:00 UTC: the start is included, the end (12:00 UTC) is not.
    assert await window("2020-01-01T11:00:00+01:00", "2020-01-01T13:00:00+01:00") == ["10Z"]
    assert await window("2020-01-01T10:00:00Z", "2020-01-01T14:00:00Z") == ["10Z", "12Z"]
    assert await window("2020-01-01T04:30:00-05:00", "2020-01-01T09:00:00-05:00") == [
        "10Z",
        "12Z",
    ]
    # Without an offset the API reads UTC.
    assert await window("2020-01-01T12:00:00", "2020-01-01T15:00:00") == ["12Z", "14Z"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [("asc", ["alpha", "bravo", "charlie"]), ("desc", ["charlie", "bravo", "alpha"])],
)
async def test_sorts_by_action(
    session: AsyncSession,
    clinic: Organization,
    admin_api: httpx.AsyncClient,
    order: str,
    expected: list[str],
) -> None:
    for action in ("bravo", "charlie", "alpha"):
        await record(session, clinic, action=action, resource_type="sorted")

    found = await items(admin_api, resource_type="sorted", sort="action", order=order)

    assert [item["action"] for item in found] == expected


async def test_pages_with_limit_and_next_cursor(
    session: AsyncSession, clinic: Organization, admin_api: httpx.AsyncClient
) -> None:
    recorded = [
        (await record(session, clinic, action="test.paged", resource_id=str(n))).id
        for n in range(5)
    ]

    seen: list[str] = []
    pages = 0
    params: dict[str, str | int] = {"action": "test.paged", "limit": 2, "order": "asc"}
    while True:
        response = await admin_api.get(EVENTS, params=params)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        assert len(body["items"]) <= 2
        seen.extend(item["id"] for item in body["items"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    assert pages == 3
    assert seen == [str(i) for i in recorded]


async def test_a_bad_cursor_is_a_400_problem(admin_api: httpx.AsyncClient) -> None:
    response = await admin_api.get(EVENTS, params={"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:clinicdesk:problem:bad-cursor"


# --- CSV export ------------------------------------------------------------------------


async def test_the_csv_export_has_a_header_and_neutralises_formulas(
    session: AsyncSession, clinic: Organization, admin: User, admin_api: httpx.AsyncClient
) -> None:
    await record(
        session,
        clinic,
        action="test.csv",
        resource_type="+cmd",
        resource_id='=HYPERLINK("http://x")',
        details={"note": "=1+1"},
    )
    await record(session, clinic, action="test.csv", resource_type="-2+3", resource_id="@SUM(A1)")

    response = await admin_api.get(EXPORT, params={"action": "test.csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(CSV_COLUMNS)
    by_column = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert sorted((r["resource_type"], r["resource_id"]) for r in by_column) == [
        ("'+cmd", '\'=HYPERLINK("http://x")'),
        ("'-2+3", "'@SUM(A1)"),
    ]
    for row in by_column:
        assert row["action"] == "test.csv"
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert {r["details"] for r in by_column} == {'{"note": "=1+1"}', ""}

    await scope_to_tenant(session, clinic.id)
    exported = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
    ).scalar_one()
    assert exported.actor_user_id == admin.id
    assert exported.details is not None and exported.details["action"] == "test.csv"


# --- the admin page --------------------------------------------------------------------


async def test_the_admin_page_renders_whole_or_as_the_results_block(
    session: AsyncSession, clinic: Organization, admin: User, sign_in_web: SignIn
) -> None:
    await record(session, clinic, action="test.on_the_page", resource_type="shown")
    browser = await sign_in_web(admin)

    page = await browser.get(PAGE)
    block = await browser.get(PAGE, params={"action": "test.on_the_page"}, headers=HTMX)

    assert page.status_code == 200
    assert "<html" in page.text
    assert "<h1>Audit trail</h1>" in page.text
    assert '<form method="get" action="/admin/audit"' in page.text
    assert 'id="audit-results"' in page.text

    assert block.status_code == 200
    assert "<html" not in block.text
    assert "<form" not in block.text
    assert block.text.lstrip().startswith('<div id="audit-results">')
    assert "test.on_the_page" in block.text


async def test_the_page_reads_times_without_offset_in_the_organizations_zone(
    session: AsyncSession,
    clinic: Organization,
    admin: User,
    admin_api: httpx.AsyncClient,
    sign_in_web: SignIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_admin = actor_for(admin)
    await organizations.update_organization(
        session,
        actor=by_admin,
        update=OrganizationUpdate(time_zone="Asia/Tokyo"),  # UTC+9, no daylight saving
        expected_version=None,
    )
    # 09:30 and 18:30 in Tokyo.
    await record_at(
        session,
        clinic,
        datetime(2020, 3, 1, 0, 30, tzinfo=UTC),
        monkeypatch,
        action="test.tz",
        resource_type="early-probe",
    )
    await record_at(
        session,
        clinic,
        datetime(2020, 3, 1, 9, 30, tzinfo=UTC),
        monkeypatch,
        action="test.tz",
        resource_type="late-probe",
    )
    browser = await sign_in_web(admin)
    typed = {"action": "test.tz", "since": "2020-03-01T09:00", "until": "2020-03-01T10:00"}

    page = await browser.get(PAGE, params=typed)
    block = await browser.get(PAGE, params=typed, headers=HTMX)
    in_utc = await browser.get(
        PAGE, params={**typed, "since": "2020-03-01T09:00Z", "until": "2020-03-01T10:00Z"}
    )

    assert page.status_code == 200
    assert "Early probe" in page.text  # the record's kind, in words
    assert "Late probe" not in page.text
    assert "03/01/2020 09:30" in page.text  # shown in Tokyo time, in the clinic's format
    assert 'value="2020-03-01T09:00"' in page.text  # the filter reads back as typed
    assert "Times in Asia/Tokyo." in page.text
    assert "early-probe" in block.text
    assert "late-probe" not in block.text
    # A time with an offset means that offset, not the organization's zone.
    assert "late-probe" in in_utc.text
    assert "early-probe" not in in_utc.text
    # The JSON API reads a time without an offset as UTC.
    assert [i["resource_type"] for i in await items(admin_api, **typed)] == ["late-probe"]
