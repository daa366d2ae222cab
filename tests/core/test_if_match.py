"""An update over the API names the version it was based on: every ``PUT`` and
``PATCH`` route (and every other route that checks a version) refuses a request without
``If-Match`` with 428 and a message saying what to send, instead of overwriting
whatever someone else saved in between."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.http import MISSING_IF_MATCH, expected_version
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, create_user
from tests.support.patients import patient_json
from tests.support.walk import Endpoint, api_routes, calls, concrete, method_routes, role_for

UPDATES = frozenset({"PUT", "PATCH"})


def checks_version(route: Endpoint) -> bool:
    return expected_version in set(calls(route.dependant))


def test_every_api_update_route_requires_if_match(app: FastAPI) -> None:
    updates = [
        f"{method} {path}"
        for method, path, route in method_routes(api_routes(app))
        if path.startswith("/api/") and method in UPDATES
    ]
    unchecked = [
        f"{method} {path}"
        for method, path, route in method_routes(api_routes(app))
        if path.startswith("/api/") and method in UPDATES and not checks_version(route)
    ]
    assert len(updates) >= 8
    assert unchecked == []


async def test_every_versioned_api_route_answers_428_without_if_match(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_api: SignIn,
) -> None:
    staff = {role: await create_user(session, clinic, role) for role in Role}
    clinic_id = clinic.id
    clients: dict[Role, httpx.AsyncClient] = {}
    refused = []
    for method, path, route in method_routes(api_routes(app)):
        role = role_for(route)
        if not checks_version(route) or role is None:
            continue
        if role not in clients:
            await scope_to_tenant(session, clinic_id)
            clients[role] = await sign_in_api(staff[role])
        response = await clients[role].request(method, concrete(path), json={})
        if response.status_code != 428:
            refused.append(f"{method} {path} -> {response.status_code}")
            continue
        problem = response.json()
        assert problem["type"] == "urn:clinicdesk:problem:if-match-required"
        assert problem["detail"] == MISSING_IF_MATCH
    assert refused == []


async def test_a_put_without_if_match_changes_nothing(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    created = (await desk.post("/api/v1/patients", json=patient_json())).json()
    url = f"/api/v1/patients/{created['id']}"

    blind = await desk.put(url, json=patient_json(given_name="Jon"))
    assert blind.status_code == 428
    assert "If-Match" in blind.json()["detail"]
    assert (await desk.get(url)).json()["given_name"] == "John"

    overwrite = await desk.put(url, json=patient_json(given_name="Jon"), headers={"If-Match": "*"})
    assert overwrite.status_code == 200
    assert overwrite.json()["given_name"] == "Jon"
