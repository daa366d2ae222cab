"""Every page address, as a person may open it: a fragment's address opened directly
(a reload, a bookmark) leads to its page, and a bad id or a missing or wrong parameter in
an address is a readable page (404, or 400 saying what is wrong), never a 500 or a raw
validation error.

The routes come from the app's route table, so a new page joins the walk by itself.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.auth import RequirePatientPortal
from clinicdesk.identity.models import User, UserKind
from clinicdesk.identity.service import users
from clinicdesk.scheduling.models import Appointment
from tests.identity.test_routes import requirement_of
from tests.support.fuzz import resources
from tests.support.identity import browser_as
from tests.support.walk import Endpoint, api_routes

PARAM = re.compile(r"{(\w+)}")
PAGE = {"accept": "text/html"}
HTMX = {"accept": "text/html", "hx-request": "true"}


def page_routes(app: FastAPI) -> list[Endpoint]:
    """The GET routes a browser opens (not the API, the static files or the streams)."""
    return [
        r
        for r in api_routes(app)
        if "GET" in r.methods
        and not r.path.startswith(("/api/", "/health", "/metrics", "/openapi", "/docs"))
        and not r.path.endswith(".ics")
    ]


def query_fields(route: Endpoint) -> list[tuple[str, FieldInfo]]:
    """The route's query parameters by name, a query model's fields each on their own
    (``Annotated[AuditQuery, Query()]`` is one parameter standing for its fields)."""
    params = list(route.dependant.query_params)
    for dependency in route.dependant.dependencies:
        params += dependency.query_params
    found: list[tuple[str, FieldInfo]] = []
    for param in params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += [(f.alias or name, f) for name, f in annotation.model_fields.items()]
        else:
            found.append((param.alias, param.field_info))
    return found


def required_query(route: Endpoint) -> list[str]:
    return [name for name, info in query_fields(route) if info.is_required()]


async def portal_user(session: AsyncSession, known: dict[str, Any]) -> User:
    organization_id = (await session.get(User, known["user_id"])).organization_id  # type: ignore[union-attr]
    await scope_to_tenant(session, organization_id)
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=organization_id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Pat Portal",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=known["patient_id"],
    )
    await session.commit()
    return user


async def browsers(app: FastAPI, session: AsyncSession) -> tuple[Any, Any, dict[str, Any]]:
    known = await resources(session, app)
    known["secret"] = "no-such-link"
    today = datetime.now(UTC).date()
    known["start"] = today.isoformat()
    known["end"] = (today + timedelta(days=7)).isoformat()
    staff = await browser_as(app, session, known.pop("staff"))
    patient = await browser_as(app, session, await portal_user(session, known))
    return staff, patient, known


def caller(route: Endpoint, staff: httpx.AsyncClient, patient: httpx.AsyncClient) -> Any:
    return patient if isinstance(requirement_of(route), RequirePatientPortal) else staff


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_page_address_opened_directly_is_a_page_or_leads_to_one(
    app: FastAPI, session: AsyncSession
) -> None:
    staff, patient, known = await browsers(app, session)
    broken = []
    walked = 0
    for route in page_routes(app):
        query = {name: str(known[name]) for name in required_query(route) if name in known}
        if len(query) < len(required_query(route)):
            continue  # needs a value only a page's own script sends (a calendar range)
        url = PARAM.sub(lambda m: str(known[m.group(1)]), route.path)
        client = caller(route, staff, patient)
        walked += 1
        for headers in (PAGE, HTMX):
            response = await client.get(url, params=query, headers=headers)
            html = response.headers.get("content-type", "").startswith("text/html")
            whole = response.status_code != 200 or not html or "<html" in response.text
            if response.status_code >= 500 or (headers is PAGE and not whole):
                fragment = "" if whole else " (a fragment alone)"
                broken.append(f"{route.path} {headers} -> {response.status_code}{fragment}")
    assert walked > 20
    assert broken == [], "\n".join(broken)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_bad_id_or_parameter_in_a_page_address_is_a_readable_page(
    app: FastAPI, session: AsyncSession
) -> None:
    staff, patient, known = await browsers(app, session)
    raw = []
    for route in page_routes(app):
        client = caller(route, staff, patient)
        if "{" in route.path:
            url = PARAM.sub("not-a-uuid", route.path)
            # A fragment's address leads to its page first (303), which is then not there.
            response = await client.get(url, headers=PAGE, follow_redirects=True)
            # A 404 page of its own (a display's "link gone") is as readable as ours.
            if response.status_code != 404 or "<html" not in response.text:
                raw.append(f"{url} -> {response.status_code}")
        if required_query(route):
            url = PARAM.sub(lambda m: str(known[m.group(1)]), route.path)
            response = await client.get(url, headers=PAGE, follow_redirects=True)
            if response.status_code not in (200, 400) or "<html" not in response.text:
                raw.append(f"{url} (no query) -> {response.status_code}")
            elif response.status_code == 400 and "is missing" not in response.text:
                raw.append(f"{url} (no query) -> 400 without saying what is missing")
    assert raw == [], "\n".join(raw)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_issues_addresses(app: FastAPI, session: AsyncSession) -> None:
    staff, _patient, _known = await browsers(app, session)
    board = await staff.get("/queue/board", headers=PAGE)
    assert board.status_code == 303
    assert board.headers["location"] == "/queue"
    assert (await staff.get(f"/patients/{'not-a-uuid'}", headers=PAGE)).status_code == 404
    audit = await staff.get("/admin/audit", params={"patient_id": "xyz"}, headers=PAGE)
    assert audit.status_code == 400
    assert "the patient is not a valid id" in audit.text
    search = await staff.get("/patients", params={"q": "x" * 600}, headers=PAGE)
    assert search.status_code == 400
    assert 'name="q"' in search.text  # the search form again, with the message
    assert "at most 200 characters" in search.text


EXTREME_DATES = [
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2199-12-31T23:59",
    "1799-12-31",
]


def date_parameters(route: Endpoint) -> list[str]:
    """Query parameters of a page that carry a date or a time (typed, or text a view
    reads as one)."""
    return [
        name
        for name, info in query_fields(route)
        if "date" in str(info.annotation) or name in {"date", "start", "end"}
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_extreme_dates_in_a_page_address_are_not_a_server_error(
    app: FastAPI, session: AsyncSession
) -> None:
    staff, patient, known = await browsers(app, session)
    failures = []
    covered = set()
    for route in page_routes(app):
        names = date_parameters(route)
        if not names:
            continue
        covered.add(route.path)
        base = {name: str(known[name]) for name in required_query(route) if name in known}
        url = PARAM.sub(lambda m: str(known[m.group(1)]), route.path)
        for value in EXTREME_DATES:
            query = {**base, **dict.fromkeys(names, value)}
            for headers in (PAGE, HTMX):
                client = caller(route, staff, patient)
                response = await client.get(url, params=query, headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{route.path} {value} {headers} -> {response.status_code}")
    assert {"/calendar", "/admin/audit", "/portal/appointments/slots"} <= covered
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_form_refuses_what_its_api_refuses(app: FastAPI, session: AsyncSession) -> None:
    """The portal's cancel form took its reason as free text, past the API's schema."""
    _staff, patient, known = await browsers(app, session)
    url = f"/portal/appointments/{known['appointment_id']}/cancel"
    response = await patient.post(url, data={"reason": "ill\x1b[2J"})
    assert response.status_code == 303
    page = await patient.get("/portal/appointments", headers=PAGE)
    assert "control or text-direction characters" in page.text
    appointment = await session.get(Appointment, known["appointment_id"])
    assert appointment is not None
    await session.refresh(appointment)
    assert appointment.status == "booked"
