"""What a browser sees before signing in: the sign-in page names the clinic, a signed-out
page is a redirect to it (API clients keep their 401), and the icon browsers ask for."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.identity.models import Organization
from clinicdesk.web.views import STATIC_DIR
from tests.support.identity import client_for, create_org

PAGE = "text/html,application/xhtml+xml"


async def test_the_home_page_signed_out_sends_the_browser_to_sign_in(app: FastAPI) -> None:
    async with client_for(app, accept=PAGE) as browser:
        home = await browser.get("/")
        assert home.status_code == 303
        assert home.headers["location"] == "/login"
        # Any other page comes back to where it was, query and all.
        deep = await browser.get("/calendar", params={"view": "week", "date": "2026-12-01"})
        assert deep.status_code == 303
        assert deep.headers["location"] == "/login?next=/calendar%3Fview%3Dweek%26date%3D2026-12-01"
        # htmx is told where to go instead: it would swap a redirect's page into a box.
        fragment = await browser.get("/system-status", headers={"hx-request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["hx-redirect"] == "/login?next=/system-status"


async def test_api_clients_still_get_a_401_problem(app: FastAPI) -> None:
    async with client_for(app) as tool, client_for(app, accept=PAGE) as browser:
        for client, path in ((tool, "/"), (tool, "/api/v1/me"), (browser, "/api/v1/me")):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert response.headers["content-type"] == "application/problem+json"


async def test_the_sign_in_page_names_the_only_clinic(
    app: FastAPI, session: AsyncSession, clinic: Organization, backend: str
) -> None:
    async with client_for(app, accept=PAGE) as browser:
        page = await browser.get("/login")
        assert page.status_code == 200
        # On PostgreSQL the server's role sees no organization before sign-in (row-level
        # security): the name comes through clinicdesk_sole_organization_name().
        assert '<p class="sign-in-clinic">Riverside</p>' in page.text
        assert "<title>Sign in · Riverside · ClinicDesk</title>" in page.text

        # With two clinics on the server, the page cannot know whose staff is signing in.
        await create_org(session, "Hillside")
        await session.commit()
        page = await browser.get("/login")
        assert '<p class="sign-in-clinic">ClinicDesk</p>' in page.text
        assert "Riverside" not in page.text and "Hillside" not in page.text


async def test_favicon_ico_is_the_linked_icon(app: FastAPI) -> None:
    async with client_for(app, accept=PAGE) as browser:
        icon = await browser.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.content == (STATIC_DIR / "favicon.svg").read_bytes()
        assert "max-age" in icon.headers["cache-control"]
        linked = await browser.get("/static/favicon.svg")
        assert linked.status_code == 200
        sign_in = await browser.get("/login")
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in sign_in.text


async def test_a_refused_sign_in_keeps_the_clinic_name(
    app: FastAPI, clinic: Organization, backend: str
) -> None:
    async with client_for(app, accept=PAGE) as browser:
        form = await browser.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        refused = await browser.post(
            "/login",
            data={"email": "nobody@example.org", "password": "not it", "csrf_token": token},
        )
        assert refused.status_code == 401
        assert '<p class="sign-in-clinic">Riverside</p>' in refused.text
