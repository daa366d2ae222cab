"""Every form that changes a versioned record sends the version it was built from, and a
post without one (or with one that is not a version) is refused with a message a person
can act on (428), instead of saving without the stale-write check.

The routes are found, not listed: every HTML ``POST`` route that takes ``FormVersion``,
and every form in the templates that carries a hidden ``version``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

import clinicdesk
from clinicdesk.core.http import MISSING_VERSION, form_version
from clinicdesk.identity.permissions import Role
from tests.support.identity import browser_as, create_org, create_user
from tests.support.walk import api_routes, calls

SOURCE = Path(clinicdesk.__file__).parent
PARAM = re.compile(r"{(\w+)}")
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
TARGET = re.compile(r'\b(?:hx-post|action)="([^"]+)"')
JINJA = re.compile(r"{{.*?}}")
# A view reading "version" itself, other than through ``required_version``.
BY_HAND = re.compile(r"""(?<!required_version\()\b\w+\.get\(\s*["']version["']""")


def post_pages(app: FastAPI) -> dict[str, bool]:
    """The HTML form routes (``POST``, not the API): path -> does it take FormVersion."""
    found: dict[str, bool] = {}
    for route in api_routes(app):
        if "POST" in route.methods and not route.path.startswith("/api/"):
            takes = form_version in set(calls(route.dependant))
            found[route.path] = found.get(route.path, False) or takes
    return found


def versioned_forms() -> Iterator[tuple[str, str]]:
    """(template, where it posts) for every form that sends a ``version``."""
    for template in sorted(SOURCE.glob("*/templates/**/*.html")):
        for attributes, body in FORM.findall(template.read_text()):
            if 'name="version"' not in body:
                continue
            targets = set(TARGET.findall(attributes))
            assert len(targets) == 1, f"{template.name}: one target per form ({targets})"
            yield template.name, JINJA.sub("X", targets.pop())


def routes_of(target: str, paths: set[str]) -> set[str]:
    """The routes a form's target can reach: an ``X`` (a template expression) stands for
    any one segment, so ``/patients/X/chart/X`` reaches each chart list's own route."""
    parts = target.split("/")

    def reaches(path: str) -> bool:
        segments = path.split("/")
        return len(segments) == len(parts) and all(
            part == "X" or PARAM.fullmatch(segment) or part == segment
            for part, segment in zip(parts, segments, strict=True)
        )

    return {path for path in paths if reaches(path)}


def test_every_versioned_form_posts_to_a_route_that_requires_its_version(app: FastAPI) -> None:
    pages = post_pages(app)
    requiring = {path for path, takes in pages.items() if takes}
    targeted: set[str] = set()
    for template, target in versioned_forms():
        routes = routes_of(target, set(pages))
        assert routes, f"{template} posts a version to {target}, which is no route"
        ignoring = routes - requiring
        assert not ignoring, f"{template} posts a version to {target}: {ignoring} ignore it"
        targeted |= routes
    # ... and the other way round: a route that requires a version gets one from the UI.
    assert requiring - targeted == set()
    assert len(requiring) >= 10


def test_no_view_reads_a_version_by_hand() -> None:
    """Versions come through ``FormVersion`` only (by hand, a missing one became None)."""
    by_hand = [
        str(module.relative_to(SOURCE))
        for module in SOURCE.rglob("*.py")
        if "views" in module.as_posix() and re.search(BY_HAND, module.read_text())
    ]
    assert by_hand == []


async def test_an_update_without_its_version_is_refused(
    app: FastAPI, session: AsyncSession
) -> None:
    # Without a second factor, so one user can reach every form.
    clinic = await create_org(session, name="Versions clinic", mfa_required_for_admins=False)
    everyone = await create_user(session, clinic, *Role)
    browser = await browser_as(app, session, everyone)
    requiring = sorted(path for path, takes in post_pages(app).items() if takes)
    refused = []
    async with browser:
        for path in requiring:
            url = PARAM.sub(lambda _m: str(uuid.uuid4()), path)
            for form in ({"reason": "Checking"}, {"reason": "Checking", "version": "v1"}):
                response = await browser.post(url, data=form)
                if response.status_code == 428 and MISSING_VERSION in response.text:
                    refused.append(path)
    assert sorted(set(refused)) == requiring
    assert len(refused) == 2 * len(requiring)
