"""Identity test helpers (a pytest plugin): organizations, users, and clients signed in
as them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.csrf import HEADER as CSRF_HEADER
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import organizations, sessions, users

PASSWORD = "correct horse battery staple"


async def create_org(
    session: AsyncSession, name: str = "Clinic A", **kwargs: object
) -> Organization:
    return await organizations.create_organization(session, name=name, **kwargs)  # type: ignore[arg-type]


async def create_user(
    session: AsyncSession,
    organization: Organization,
    *roles: Role,
    email: str | None = None,
    password: str | None = None,
) -> User:
    await scope_to_tenant(session, organization.id)
    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=organization.id,
        email=email
        or f"{'-'.join(r.value for r in roles) or 'user'}-{uuid.uuid4().hex[:8]}@example.org",
        full_name=f"Test {' '.join(r.value for r in roles)}",
        roles=list(roles),
        password=password,
    )
    await session.commit()
    return user


def client_for(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


async def browser_as(app: FastAPI, session: AsyncSession, user: User) -> httpx.AsyncClient:
    """A browser with a live session for ``user`` (second factor already passed) that
    sends the session's CSRF token with every request, as htmx does."""
    config: IdentityConfig = app.state.identity
    await session.refresh(user)  # an earlier failed request may have expired it
    token, _ = await sessions.start_web_session(
        session, user=user, config=config, mfa_verified=True
    )
    await session.commit()
    csrf = app.state.csrf.token_for_session(token)
    client = client_for(app, **{CSRF_HEADER: csrf})
    client.cookies.set(config.session_cookie, token)
    return client


async def api_as(app: FastAPI, session: AsyncSession, user: User) -> httpx.AsyncClient:
    config: IdentityConfig = app.state.identity
    await session.refresh(user)
    issued = await sessions.issue_api_tokens(session, user=user, config=config)
    await session.commit()
    return client_for(app, authorization=f"Bearer {issued.access_token}")


SignIn = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def clinic(session: AsyncSession) -> Organization:
    """An organization whose admins need no MFA (so role tests can sign straight in)."""
    return await create_org(session, "Riverside", mfa_required_for_admins=False)


@pytest.fixture
async def clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []
    yield opened
    for client in opened:
        await client.aclose()


@pytest.fixture
def sign_in_web(app: FastAPI, session: AsyncSession, clients: list[httpx.AsyncClient]) -> SignIn:
    async def sign_in(user: User) -> httpx.AsyncClient:
        client = await browser_as(app, session, user)
        clients.append(client)
        return client

    return sign_in


@pytest.fixture
def sign_in_api(app: FastAPI, session: AsyncSession, clients: list[httpx.AsyncClient]) -> SignIn:
    async def sign_in(user: User) -> httpx.AsyncClient:
        client = await api_as(app, session, user)
        clients.append(client)
        return client

    return sign_in
