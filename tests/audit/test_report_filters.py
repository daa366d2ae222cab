"""The audit report filters and sorts by every field of an entry, over the API, the CSV
export and the admin page, and refuses a parameter it does not know instead of ignoring
it (which used to answer with the whole trail)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.audit.models import Outcome
from clinicdesk.audit.report import CSV_COLUMNS
from clinicdesk.audit.schemas import AuditListQuery, SortField
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.context import RequestInfo, reset_current_request, set_current_request
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, create_user

EVENTS = "/api/v1/audit-events"
EXPORT = "/api/v1/audit-events/export.csv"


@pytest.fixture
async def admin(session: AsyncSession, clinic: Organization) -> User:
    return await create_user(session, clinic, Role.ADMIN)


async def entry(
    session: AsyncSession, clinic: Organization, tag: str, *, info: RequestInfo, **fields: Any
) -> None:
    await scope_to_tenant(session, clinic.id)
    token = set_current_request(info)
    try:
        await audit.record(session, action="test.filtered", resource_id=tag, **fields)
    finally:
        reset_current_request(token)


@pytest.fixture
async def trail(session: AsyncSession, clinic: Organization, admin: User) -> dict[str, Any]:
    """Three entries that differ in every field."""
    doctor = Actor(
        kind=ActorKind.STAFF,
        user_id=uuid.uuid4(),
        organization_id=clinic.id,
        roles=frozenset({"doctor", "nurse"}),
    )
    portal = Actor(
        kind=ActorKind.PATIENT,
        user_id=uuid.uuid4(),
        organization_id=clinic.id,
        roles=frozenset(),
        patient_id=uuid.uuid4(),
    )
    billing = Actor(
        kind=ActorKind.SYSTEM,
        user_id=uuid.uuid4(),
        organization_id=clinic.id,
        roles=frozenset({"billing"}),
    )
    patient_id = uuid.uuid4()
    await entry(
        session,
        clinic,
        "a",
        info=RequestInfo("req-a", "10.0.0.1", "UA-2 Firefox/120"),
        actor=doctor,
        patient_id=patient_id,
        resource_type="patient",
    )
    await entry(
        session,
        clinic,
        "b",
        info=RequestInfo("req-b", "10.0.0.2", "UA-1 curl/8.0"),
        actor=portal,
        outcome=Outcome.DENIED,
        resource_type="document",
    )
    await entry(
        session,
        clinic,
        "c",
        info=RequestInfo("req-c", "10.0.0.3", "UA-3 Chrome/119"),
        actor=billing,
        resource_type="job",
    )
    await session.commit()
    return {"doctor": doctor, "portal": portal, "patient_id": patient_id}


async def tags(client: httpx.AsyncClient, url: str = EVENTS, **params: str) -> list[str]:
    response = await client.get(url, params={"action": "test.filtered", **params})
    assert response.status_code == 200, response.text
    if url == EXPORT:
        rows = list(csv.DictReader(io.StringIO(response.text)))
        return [row["resource_id"] for row in rows]
    return [item["resource_id"] for item in response.json()["items"]]


async def test_every_field_filters_the_api_and_the_export(
    trail: dict[str, Any], admin: User, sign_in_api: SignIn
) -> None:
    client = await sign_in_api(admin)
    cases = {
        "actor_kind": ("patient", ["b"]),
        "user_id": (str(trail["doctor"].user_id), ["a"]),
        "role": ("nurse", ["a"]),
        "client_addr": ("10.0.0.2", ["b"]),
        "request_id": ("req-c", ["c"]),
        "user_agent": ("firefox", ["a"]),  # a part of it, any case
        "patient_id": (str(trail["patient_id"]), ["a"]),
        "resource_type": ("job", ["c"]),
        "resource_id": ("b", ["b"]),
        "outcome": ("denied", ["b"]),
    }
    for name, (value, expected) in cases.items():
        assert await tags(client, **{name: value}) == expected, name
        assert await tags(client, EXPORT, **{name: value}) == expected, f"export {name}"
    # "%" and "_" in a part are plain characters, not patterns.
    assert await tags(client, user_agent="%") == []
    assert await tags(client, role="_octor") == []


ASCENDING: dict[str, list[str] | None] = {
    "actor_kind": ["b", "a", "c"],  # patient, staff, system
    "actor_user_id": None,  # random ids: only the reversal is known
    "actor_roles": None,
    "client_addr": ["a", "b", "c"],
    "request_id": ["a", "b", "c"],
    "user_agent": ["b", "a", "c"],
    "resource_type": ["b", "c", "a"],  # document, job, patient
    "resource_id": ["a", "b", "c"],
    "outcome": None,  # denied before success; a and c tie
    "seq": ["a", "b", "c"],
}


async def test_every_field_sorts(trail: dict[str, Any], admin: User, sign_in_api: SignIn) -> None:
    client = await sign_in_api(admin)
    for sort, ascending in ASCENDING.items():
        up = await tags(client, sort=sort, order="asc")
        down = await tags(client, sort=sort, order="desc")
        if ascending is not None:
            assert (up, down) == (ascending, ascending[::-1]), sort
        elif sort == "outcome":
            assert up[0] == "b" and down[-1] == "b"
        else:
            assert down == up[::-1], sort
        if sort == "actor_roles":  # the roles' text: ["billing"] before ["doctor", "nurse"]
            assert up.index("c") < up.index("a")


def test_every_field_of_an_entry_can_sort() -> None:
    columns = set(CSV_COLUMNS) - {"changes", "details"}
    assert columns <= set(SortField.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", [EVENTS, EXPORT])
async def test_an_unknown_parameter_is_a_422_naming_the_known_ones(
    trail: dict[str, Any], admin: User, sign_in_api: SignIn, url: str
) -> None:
    client = await sign_in_api(admin)

    response = await client.get(url, params={"actor": "someone", "action": "test.filtered"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["unknown"] == ["actor"]
    assert "user_id" in problem["allowed"] and "role" in problem["allowed"]
    assert "actor" in problem["detail"] and "user_agent" in problem["detail"]
    if url == EVENTS:
        assert set(problem["allowed"]) == set(AuditListQuery.model_fields)


async def test_the_page_filters_by_every_field_and_explains_an_unknown_one(
    trail: dict[str, Any], admin: User, sign_in_web: SignIn
) -> None:
    browser = await sign_in_web(admin)
    form = {
        "since": "",
        "until": "",
        "actor_kind": "",
        "user_id": "",
        "role": "",
        "client_addr": "10.0.0.2",
        "request_id": "",
        "user_agent": "",
        "patient_id": "",
        "action": "test.filtered",
        "resource_type": "",
        "resource_id": "",
        "outcome": "",
        "sort": "occurred_at",
        "order": "desc",
    }

    page = await browser.get("/admin/audit", params=form)
    refused = await browser.get(
        "/admin/audit", params={"clientaddr": "10.0.0.2"}, headers={"Accept": "text/html"}
    )

    assert page.status_code == 200, page.text
    for name in form:
        assert f'name="{name}"' in page.text, name
    assert "req-b" in page.text
    assert "req-a" not in page.text and "req-c" not in page.text
    assert refused.status_code == 422
    assert "<html" in refused.text
    assert "Unknown filter clientaddr" in refused.text
