"""Requests drawn from the app's own OpenAPI document (schemathesis), sent in process.

Used by the API fuzz test and the extreme-dates property test: every operation of
/openapi.json is covered without naming it, so a new route is exercised the day it
appears. Generation is derandomized (the same requests on every run) and bounded.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.scheduling.models import Appointment, WeeklyHours
from tests.identity.test_routes import other_organization
from tests.support.identity import create_user

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# An event stream answers for as long as the client listens; tests/core/test_sse.py
# covers it.
STREAMS = ("/api/v1/events",)
# Operations that end the caller's own credentials: run last, so that every other
# operation runs signed in.
LAST = ("/api/v1/auth/logout", "/api/v1/auth/sessions", "/api/v1/account")


def operations(app: FastAPI) -> list[Any]:
    """Every operation of the app's OpenAPI document but the streams, those that sign
    the caller out last."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    found = [
        result.ok()
        for result in schema.get_all_operations()
        if isinstance(result, Ok) and result.ok().path not in STREAMS
    ]
    found.sort(key=lambda op: op.path.startswith(LAST))
    return found


def draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same ones on every run."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        drawn.append(case)

    # Unsatisfiable: there is no invalid request to an operation without parameters.
    with contextlib.suppress(Unsatisfiable):
        collect()
    return drawn


async def resources(session: AsyncSession, app: FastAPI) -> dict[str, Any]:
    """One record of every kind a path names (a patient, an appointment, a visit...),
    keyed by the parameter that names it, in the organization of a user with every staff
    role (under ``staff``). ``location_id`` is where the provider has hours, so a valid
    booking reaches the hours check."""
    known = await other_organization(session, app.state.identity)
    organization = await session.scalar(
        select(Organization).join(User).where(User.id == known["user_id"])
    )
    assert organization is not None
    known["location_id"] = await session.scalar(
        select(WeeklyHours.location_id).where(WeeklyHours.provider_id == known["provider_id"])
    )
    appointment = await session.get(Appointment, known["appointment_id"])
    assert appointment is not None
    known["type_id"] = appointment.type_id
    known["staff"] = await create_user(session, organization, *Role)
    return known


def with_real_ids(values: object, known: dict[str, Any], *, any_value: bool = False) -> None:
    """Point the ids a body, query or path names (``patient_id``...) at real records, so
    that a valid request gets past the lookup to the rules behind it. Only values shaped
    like ids are replaced, unless ``any_value``."""
    if not isinstance(values, dict):
        return
    for name, value in values.items():
        if name in known and (any_value or (isinstance(value, str) and UUID.match(value))):
            values[name] = str(known[name])


def request_of(case: Any) -> dict[str, Any]:
    """The case as ``httpx`` arguments (schemathesis serializes for ``requests``)."""
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("auth", None)
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        kwargs["content"] = kwargs.pop("data")
    cookies = kwargs.pop("cookies", None)
    if cookies:
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        kwargs["headers"] = {**kwargs.get("headers", {}), "Cookie": cookie}
    for name in ("json", "data", "files", "params"):
        if kwargs.get(name) is None:
            kwargs.pop(name, None)
    return kwargs
