"""Who is asking costs one statement per request: the secret's row, its user and the
organization are read together, and kept for the request (the session's identity map
holds objects only while something references them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.tenancy import clear_scope
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import sessions
from tests.support.identity import create_org, create_user


@contextmanager
def statements_of(session: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []
    target = session.sync_session.connection().engine

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "set_config" not in statement:  # the tenant setting (PostgreSQL) is not a read
            seen.append(statement.split()[0].upper())

    event.listen(target, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", count)


async def _fresh(session: AsyncSession) -> None:
    """As the next request finds it: nothing loaded, no scope."""
    session.expunge_all()
    await clear_scope(session)


async def test_an_access_token_is_resolved_with_one_select(
    app: FastAPI, session: AsyncSession
) -> None:
    config: IdentityConfig = app.state.identity
    organization = await create_org(session, "Statement Clinic")
    user = await create_user(session, organization, Role.DOCTOR)
    issued = await sessions.issue_api_tokens(session, user=user, config=config)
    await session.commit()
    await _fresh(session)
    await sessions.resolve_access_token(session, token=issued.access_token)  # tenant cached
    await _fresh(session)

    with statements_of(session) as seen:
        resolved = await sessions.resolve_access_token(session, token=issued.access_token)
        # What authentication reads next is already there, without a statement.
        assert await session.get(User, resolved.actor.user_id) is resolved.user
        assert await session.get(Organization, organization.id) is resolved.organization
    assert resolved.organization.name == "Statement Clinic"
    assert [s for s in seen if s == "SELECT"] == ["SELECT"]


async def test_a_web_session_is_resolved_with_one_select(
    app: FastAPI, session: AsyncSession
) -> None:
    config: IdentityConfig = app.state.identity
    organization = await create_org(session, "Statement Clinic")
    user = await create_user(session, organization, Role.RECEPTIONIST)
    token, _ = await sessions.start_web_session(
        session, user=user, config=config, mfa_verified=True
    )
    await session.commit()
    await _fresh(session)
    await sessions.resolve_web_session(session, token=token, config=config)
    await _fresh(session)

    with statements_of(session) as seen:
        resolved = await sessions.resolve_web_session(session, token=token, config=config)
        assert await session.get(User, resolved.actor.user_id) is resolved.user
    assert resolved.organization.id == organization.id
    assert [s for s in seen if s == "SELECT"] == ["SELECT"]
