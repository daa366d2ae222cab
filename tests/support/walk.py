"""Walking the app's routes in tests: each route as served, with every dependency it runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts


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
