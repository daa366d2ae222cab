"""The web shell: layout, htmx fragments, flash messages, the API reference page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import clinicdesk
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from tests.support.identity import SignIn, browser_as, create_user

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def client(
    session: AsyncSession, clinic: Organization, sign_in_web: SignIn
) -> httpx.AsyncClient:
    """An admin's browser (the system status is theirs)."""
    return await sign_in_web(await create_user(session, clinic, Role.ADMIN))


@pytest.fixture
async def probe_client(
    probe_client: httpx.AsyncClient, session: AsyncSession, clinic: Organization, app: object
) -> httpx.AsyncClient:
    signed = await browser_as(app, session, await create_user(session, clinic, Role.DOCTOR))  # type: ignore[arg-type]
    probe_client.cookies.update(signed.cookies)
    probe_client.headers.update({k: v for k, v in signed.headers.items() if k.startswith("x-csrf")})
    await signed.aclose()
    return probe_client


async def test_home_page_has_the_layout_and_loads_htmx_from_static(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<nav class="container" aria-label="Main">' in html
    assert 'id="flash-messages"' in html
    assert 'id="live-region"' in html and 'aria-live="polite"' in html
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in html
    assert 'name="viewport"' in html
    assert "<script>" not in html  # no inline script (CSP)
    assert 'hx-get="/system-status"' in html


async def test_vendor_libraries_are_served(client: httpx.AsyncClient) -> None:
    htmx = await client.get("/static/vendor/htmx/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:2000]
    assert (await client.get("/static/vendor/pico/pico.jade.min.css")).status_code == 200
    assert (await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")).status_code == 200


async def test_only_the_listed_package_folders_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/vendor/htmx/../package.json")).status_code == 404
    assert (await client.get("/static/vendor/@scarf/scarf/report.js")).status_code == 404


async def test_system_status_is_a_page_or_a_fragment(client: httpx.AsyncClient) -> None:
    page = await client.get("/system-status")
    assert "<html" in page.text
    assert 'aria-current="page"' in page.text

    fragment = await client.get("/system-status", headers=HTMX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<article id="status-card"')
    assert "<html" not in fragment.text
    assert "✓ Ready" in fragment.text


async def test_flash_message_shows_once_and_is_escaped(probe_client: httpx.AsyncClient) -> None:
    redirect = await probe_client.post("/test/flash")
    assert redirect.status_code == 303
    shown = await probe_client.get("/")
    assert "Saved &lt;b&gt;safely&lt;/b&gt;." in shown.text
    assert 'class="flash flash-success"' in shown.text
    again = await probe_client.get("/")
    assert "Saved" not in again.text


async def test_a_forged_flash_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    client.cookies.set("clinicdesk_flash", "W1sic3VjY2VzcyIsICJoaSJdXQ.forged.sig")
    response = await client.get("/")
    assert response.status_code == 200
    assert "flash-success" not in response.text


async def test_api_reference_runs_swagger_from_static_files(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert "/static/swagger-init.js" in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "ClinicDesk"


def test_templates_name_permissions_by_the_enum() -> None:
    """``actor.can(Permission.X)``: a misspelt name fails when the page renders (strict
    undefined), where a misspelt string would quietly hide a button from everyone."""
    source = Path(clinicdesk.__file__).parent
    literal = re.compile(r"""\.can\(\s*["']""")
    found = [
        str(t.relative_to(source))
        for t in source.glob("*/templates/**/*.html")
        if literal.search(t.read_text())
    ]
    assert found == []
