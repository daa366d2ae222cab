"""The routers' one-step "not mine" (core/routing.py) never hides a route.

The whole app's routes are reached over HTTP by the route walk (tests/identity/
test_routes.py: every route answers anonymous callers 401, not 404); here the guard is
checked where it decides, router by router, and on the paths it reads.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from fastapi import APIRouter as FastAPIRouter
from fastapi import FastAPI
from starlette.routing import Match, compile_path

import clinicdesk
from clinicdesk.app import PROTECTED_ROUTERS, PUBLIC_ROUTERS, create_app
from clinicdesk.config import Settings
from clinicdesk.core.routing import APIRouter, PathGuard, literal_segments, path_patterns
from tests.support.walk import api_routes, concrete


@pytest.mark.parametrize(
    ("template", "segments"),
    [
        ("/api/v1/patients/{patient_id}", ("api", "v1", "patients")),
        ("/api/v1/queue/check-ins", ("api", "v1", "queue")),
        ("/calendar/feeds/{token}.ics", ("calendar", "feeds")),
        ("/rx", ("rx",)),
        ("/rx/{code}", ("rx",)),
        ("/", ("",)),
        ("/{anything}", ()),
        ("/static/{path:path}", ("static",)),
        ("/files/report-{id}.pdf", ("files",)),
        ("/a.b/c+d/e(f)/g", ("a.b", "c+d", "e(f)")),
    ],
)
def test_the_literal_segments_of_a_path_pattern(template: str, segments: tuple[str, ...]) -> None:
    regex, _format, _convertors = compile_path(template)
    assert literal_segments(regex.pattern) == segments


def test_a_pattern_that_is_more_than_a_literal_has_no_literal_segments() -> None:
    assert literal_segments(r"^/\d+/x$") == ()
    assert literal_segments(r"^/ab*/x$") == ()
    assert literal_segments("^/api/v1$") == ("api", "v1")


def guard_of(*templates: str) -> PathGuard:
    return PathGuard([compile_path(t)[0].pattern for t in templates])


def test_the_guard_lets_through_exactly_the_paths_a_pattern_matches() -> None:
    guard = guard_of("/api/v1/patients/{patient_id}", "/rx", "/calendar/feeds/{token}.ics", "/")
    for path in ["/api/v1/patients/123", "/rx", "/calendar/feeds/abc.ics", "/"]:
        assert guard.may_match(path), path
    for path in ["/api/v1/patients", "/api/v1/queue", "/rx/1", "/rxx", "/calendar/feeds/a", ""]:
        assert not guard.may_match(path), path


def test_a_pattern_without_literal_segments_is_tried_for_every_path() -> None:
    guard = guard_of("/{page}", "/api/v1/things")
    assert guard.may_match("/anything")
    assert guard.may_match("/api/v1/things")
    assert not guard.may_match("/a/b")


def test_a_router_with_a_route_it_cannot_read_matches_as_fastapi_does() -> None:
    router = APIRouter()

    @router.get("/mine")
    def mine() -> dict[str, str]:
        return {}

    class Unreadable:  # a route with no path pattern: the guard stands aside
        path_regex = None

    assert path_patterns(router) is not None
    router.routes.append(Unreadable())  # type: ignore[arg-type]
    assert path_patterns(router) is None


def test_an_included_router_s_prefix_is_part_of_its_patterns() -> None:
    inner = APIRouter()

    @inner.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    outer = APIRouter()
    outer.include_router(inner, prefix="/shop")
    guard = PathGuard(path_patterns(outer) or [])
    assert guard.may_match("/shop/items/7")
    assert not guard.may_match("/items/7")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")), configure_logs=False)


def test_every_router_of_the_app_can_be_guarded() -> None:
    for router in (*PUBLIC_ROUTERS, *PROTECTED_ROUTERS):
        assert isinstance(router, APIRouter)
        assert path_patterns(router), router.routes


def test_the_app_matches_a_path_to_the_same_route_with_and_without_the_guard(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route walk reaches every route over HTTP; this compares, for every route's
    path and some that are no route, which of the app's routers takes it, and whether
    fully or only by path (405), under FastAPI's own matching and under the guard."""
    routes = api_routes(app)
    assert len(routes) > 300
    requests = [(method, concrete(r.path)) for r in routes for method in ("GET", "POST")] + [
        ("GET", f"/no/such/{uuid.uuid4()}"),
        ("GET", "/api/v1/nothing"),
        ("GET", "/patients/"),
        ("GET", "/static/app.css"),
    ]
    guarded = [_top_level_match(app, *request) for request in requests]
    monkeypatch.setattr(APIRouter, "matches", FastAPIRouter.matches)
    plain = [_top_level_match(app, *request) for request in requests]
    assert guarded == plain


def _top_level_match(app: FastAPI, method: str, path: str) -> tuple[int, str]:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for index, route in enumerate(app.router.routes):
        match, _child = route.matches(scope)
        if match != Match.NONE:
            return index, match.name
    return -1, Match.NONE.name


def test_no_module_builds_fastapi_s_own_router() -> None:
    """A plain FastAPI router in the tree would make every router above it scan again."""
    package = Path(clinicdesk.__file__).parent
    offenders = []
    for module in package.rglob("*.py"):
        if module.name == "routing.py" and module.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module in {"fastapi", "fastapi.routing"}
                and any(alias.name == "APIRouter" for alias in node.names)
            ):
                offenders.append(str(module.relative_to(package)))
    assert offenders == []
