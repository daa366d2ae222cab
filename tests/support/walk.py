"""Walking the app's routes in tests: each route as served, with every dependency it runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from clinicdesk.core.access import Requirement, RequirePermission
from clinicdesk.identity.auth import RequirePatientPortal
from clinicdesk.identity.permissions import Role, roles_with


def calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from calls(dependency)


@dataclass(frozen=True)
class Endpoint:
    """A route as the app serves it: full path, methods, and every dependency it runs
    (its router's included)."""

    path: str
    methods: frozenset[str]
    dependant: Dependant


def api_routes(app: FastAPI) -> list[Endpoint]:
    found = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and context.path and context.methods:
            found.append(Endpoint(context.path, frozenset(context.methods), dependant))
    return found


PARAM = re.compile(r"{(\w+)}")


def method_routes(routes: list[Endpoint]) -> Iterator[tuple[str, str, Endpoint]]:
    """(method, path, route) for every method a route answers, HEAD left out."""
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            yield method, route.path, route


def concrete(path: str) -> str:
    """The path with a fresh UUID for every parameter (a resource that is not there)."""
    return PARAM.sub(lambda _m: str(uuid.uuid4()), path)


def requirement_of(route: Endpoint) -> Requirement | None:
    found = [c for c in calls(route.dependant) if isinstance(c, Requirement)]
    return found[0] if found else None


def role_for(route: Endpoint) -> Role | None:
    """A staff role that passes the route's requirement (the admin where it can); None
    for the patient portal's routes."""
    requirement = requirement_of(route)
    if isinstance(requirement, RequirePatientPortal):
        return None
    if not isinstance(requirement, RequirePermission):
        return Role.ADMIN
    allowed = roles_with(requirement.permission)
    return Role.ADMIN if Role.ADMIN in allowed else sorted(allowed)[0]
