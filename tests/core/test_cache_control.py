"""No answer with patient data (or any signed-in answer) may be stored by a cache: every
answer but the static files says ``Cache-Control: no-store``, checked over every route
of the app as a user the route lets in."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import PUBLIC_PATHS
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.sse import STREAM_HEADERS
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization, User, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.identity.service.common import actor_for
from tests.support.identity import SignIn, create_user
from tests.support.patients import register_patient
from tests.support.walk import api_routes, concrete, method_routes, role_for

LIVE_STREAM = "/api/v1/events"
FORM = {"version": "1", "name": "Renamed"}


def assert_not_stored(response: httpx.Response, what: str) -> None:
    assert response.headers.get("cache-control") == "no-store", (
        f"{what} -> {response.status_code}: Cache-Control {response.headers.get('cache-control')}"
    )
    vary = {v.strip().lower() for v in response.headers.get("vary", "").split(",")}
    assert {"cookie", "authorization"} <= vary, f"{what}: Vary {vary}"


async def portal_user(session: AsyncSession, clinic: Organization) -> User:
    await scope_to_tenant(session, clinic.id)
    patient = await register_patient(
        session, given_name="Pat", family_name="Portal", birth_date=date(1970, 5, 6)
    )
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=clinic.id,
        email=f"patient-{uuid.uuid4().hex[:8]}@example.org",
        full_name="Pat Portal",
        roles=[],
        password=None,
        kind=UserKind.PATIENT,
        patient_id=patient.id,
    )
    await session.commit()
    return user


FAVICON = "/favicon.ico"  # the same file as /static/favicon.svg


async def test_every_signed_in_answer_says_no_store(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    staff = {role: await create_user(session, clinic, role) for role in Role}
    patient_account = await portal_user(session, clinic)
    clinic_id = clinic.id  # a refused request rolls back and expires loaded rows
    signed_in: dict[tuple[int, bool], httpx.AsyncClient] = {}

    async def client_for(user: User, api: bool, *, fresh: bool = False) -> httpx.AsyncClient:
        key = (id(user), api)  # not user.id: a rollback expires it
        if fresh or key not in signed_in:
            # A public route leaves the session unscoped; signing in writes tenant rows.
            await scope_to_tenant(session, clinic_id)
            signed_in[key] = await (sign_in_api if api else sign_in_web)(user)
        return signed_in[key]

    checked = 0
    for method, path, route in method_routes(api_routes(app)):
        if path == LIVE_STREAM:
            continue  # never ends; its own headers say no-store (asserted below)
        if path == FAVICON:
            continue  # a static file under another name (asserted with the static files)
        role = role_for(route)
        caller = patient_account if role is None else staff[role]
        api = path.startswith("/api/")
        form = None if api or method == "GET" else FORM
        response = await (await client_for(caller, api)).request(method, concrete(path), data=form)
        if response.status_code == 401 and path not in PUBLIC_PATHS:
            # An earlier route ended this sign-in (sign out, revoke sessions): again.
            client = await client_for(caller, api, fresh=True)
            response = await client.request(method, concrete(path), data=form)
        assert response.status_code != 401, f"{method} {path}"
        assert_not_stored(response, f"{method} {path}")
        checked += 1
    assert checked > 100
    assert STREAM_HEADERS["Cache-Control"] == "no-store"


async def test_patient_data_and_exports_say_no_store(
    app: FastAPI,
    session: AsyncSession,
    clinic: Organization,
    sign_in_web: SignIn,
    sign_in_api: SignIn,
) -> None:
    admin = await create_user(session, clinic, Role.ADMIN)
    doctor = await create_user(session, clinic, Role.DOCTOR)
    patient = await register_patient(session, actor=actor_for(doctor))
    await session.commit()
    web = await sign_in_web(doctor)
    api = await sign_in_api(doctor)
    admin_web = await sign_in_web(admin)
    admin_api = await sign_in_api(admin)
    answers = {
        "patient JSON": await api.get(f"/api/v1/patients/{patient.id}"),
        "patient list": await web.get("/patients"),
        "chart page": await web.get(f"/patients/{patient.id}"),
        "audit CSV (API)": await admin_api.get("/api/v1/audit-events/export.csv"),
        "audit CSV (page)": await admin_web.get("/admin/audit/export.csv"),
    }
    for what, response in answers.items():
        assert response.status_code == 200, what
        assert_not_stored(response, what)


async def test_static_files_keep_their_validators_and_are_not_no_store(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
    icon = await client.get(FAVICON)
    assert icon.status_code == 200
    assert "no-store" not in icon.headers.get("cache-control", "")
    assert response.headers["etag"]
