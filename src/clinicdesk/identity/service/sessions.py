"""Web sessions and API tokens: issue, resolve, rotate, end.

* A web session is a random 256-bit token in a cookie; the database keeps its hash. It
  ends after ``session_idle`` without use or ``session_absolute`` after sign-in, at
  logout, or when the user's ``auth_version`` moves on (deactivation, role change,
  password change, MFA reset).
* API sign-in creates a token family: a 15-minute access token and a 7-day refresh
  token. Every refresh rotates the refresh token; presenting a used one again means it
  was copied, and the whole family is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.audit.public import Outcome
from clinicdesk.core.actor import Actor
from clinicdesk.core.context import current_request
from clinicdesk.core.db import independent_session, on_rollback, write_after_read
from clinicdesk.core.models import utcnow
from clinicdesk.core.tenancy import scope_by_lookup, scope_to_tenant
from clinicdesk.core.tokens import hash_token, new_token
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.errors import NotAuthenticated, SessionNotFound
from clinicdesk.identity.models import (
    ApiToken,
    Organization,
    TokenFamily,
    TokenKind,
    User,
    WebSession,
)
from clinicdesk.identity.service.common import actor_for

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ResolvedSession:
    actor: Actor
    session: WebSession
    user: User
    organization: Organization
    token: str

    @property
    def awaiting_second_factor(self) -> bool:
        return not self.session.mfa_verified


async def start_web_session(
    session: AsyncSession, *, user: User, config: IdentityConfig, mfa_verified: bool
) -> tuple[str, WebSession]:
    """A new session (new random id at every sign-in). Returns the cookie value."""
    raw, hashed = new_token()
    now = utcnow()
    info = current_request()
    web_session = WebSession(
        organization_id=user.organization_id,
        token_hash=hashed,
        user_id=user.id,
        auth_version=user.auth_version,
        mfa_verified=mfa_verified,
        last_seen_at=now,
        expires_at=now + config.session_absolute,
        client_addr=info.client_addr,
        user_agent=info.user_agent,
    )
    session.add(web_session)
    await session.flush()
    return raw, web_session


# Who is asking is read with one statement per request: the secret's row, its user and
# the user's organization (the caller keeps them; the session's identity map holds its
# objects only while they are referenced). Built once: a select is costly to build.
_SESSION_ROW = (
    select(WebSession, User, Organization)
    .join(User, User.id == WebSession.user_id)
    .join(Organization, Organization.id == User.organization_id)
    .where(WebSession.token_hash == bindparam("token_hash"))
)
_TOKEN_ROW = (
    select(ApiToken, TokenFamily, User, Organization)
    .join(TokenFamily, TokenFamily.id == ApiToken.family_id)
    .join(User, User.id == TokenFamily.user_id)
    .join(Organization, Organization.id == User.organization_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.kind == bindparam("kind"))
)


async def resolve_web_session(
    session: AsyncSession, *, token: str, config: IdentityConfig, touch: bool = True
) -> ResolvedSession:
    """The signed-in user behind a session cookie, or ``NotAuthenticated``. Scopes the
    database session to the user's organization. ``touch=False`` for a check that is not
    the user's activity (a live stream's periodic re-check must not keep an unattended
    session from timing out)."""
    await scope_by_lookup(session, WebSession.token_hash, hash_token(token))
    row = (await session.execute(_SESSION_ROW, {"token_hash": hash_token(token)})).one_or_none()
    now = utcnow()
    if row is None:
        raise NotAuthenticated("Please sign in.")
    web_session, user, organization = row
    if (
        web_session.revoked_at is not None
        or web_session.expires_at <= now
        or web_session.last_seen_at + config.session_idle <= now
        or not user.is_active
        or web_session.auth_version != user.auth_version
    ):
        raise NotAuthenticated("Your session has ended. Please sign in again.")
    if touch and now - web_session.last_seen_at >= TOUCH_EVERY:
        seen = update(WebSession).where(WebSession.id == web_session.id)
        if not write_after_read(session, seen.values(last_seen_at=now)):
            web_session.last_seen_at = now
    await scope_to_tenant(session, user.organization_id)
    return ResolvedSession(
        actor=actor_for(user, session_id=web_session.id),
        session=web_session,
        user=user,
        organization=organization,
        token=token,
    )


async def end_web_session(session: AsyncSession, *, web_session: WebSession, actor: Actor) -> None:
    web_session.revoked_at = utcnow()
    await audit.record(
        session,
        action="auth.logout",
        actor=actor,
        resource_type="session",
        resource_id=web_session.id,
    )


async def mark_second_factor_passed(session: AsyncSession, *, web_session: WebSession) -> None:
    web_session.mfa_verified = True
    await session.flush()


async def list_own_sessions(session: AsyncSession, *, actor: Actor) -> list[WebSession]:
    now = utcnow()
    result = await session.execute(
        select(WebSession)
        .where(
            WebSession.user_id == actor.user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .order_by(WebSession.last_seen_at.desc())
        .limit(100)
    )
    return list(result.scalars())


async def end_own_session(session: AsyncSession, *, actor: Actor, session_id: uuid.UUID) -> None:
    """End one of the actor's own sessions (another user's is simply not found)."""
    target = (
        await session.execute(
            select(WebSession).where(
                WebSession.id == session_id, WebSession.user_id == actor.user_id
            )
        )
    ).scalar_one_or_none()
    if target is None:
        raise SessionNotFound("That session does not exist or has already ended.")
    target.revoked_at = utcnow()
    await audit.record(
        session,
        action="session.ended",
        actor=actor,
        resource_type="session",
        resource_id=target.id,
    )


async def revoke_everything(session: AsyncSession, *, user: User, reason: str) -> None:
    """End all sessions and token families of ``user`` and invalidate outstanding access
    tokens (by moving ``auth_version`` on)."""
    now = utcnow()
    user.auth_version += 1
    await session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        update(TokenFamily)
        .where(TokenFamily.user_id == user.id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    await session.flush()


# --- API tokens -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


async def _issue_pair(
    session: AsyncSession, *, family: TokenFamily, config: IdentityConfig
) -> IssuedTokens:
    now = utcnow()
    access_raw, access_hash = new_token()
    refresh_raw, refresh_hash = new_token()
    session.add_all(
        [
            ApiToken(
                organization_id=family.organization_id,
                family_id=family.id,
                kind=TokenKind.ACCESS,
                token_hash=access_hash,
                expires_at=now + config.access_token_ttl,
            ),
            ApiToken(
                organization_id=family.organization_id,
                family_id=family.id,
                kind=TokenKind.REFRESH,
                token_hash=refresh_hash,
                expires_at=now + config.refresh_token_ttl,
            ),
        ]
    )
    await session.flush()
    return IssuedTokens(
        access_token=access_raw,
        refresh_token=refresh_raw,
        expires_in=int(config.access_token_ttl.total_seconds()),
    )


async def issue_api_tokens(
    session: AsyncSession, *, user: User, config: IdentityConfig
) -> IssuedTokens:
    info = current_request()
    family = TokenFamily(
        organization_id=user.organization_id,
        user_id=user.id,
        auth_version=user.auth_version,
        client_addr=info.client_addr,
        user_agent=info.user_agent,
    )
    session.add(family)
    await session.flush()
    return await _issue_pair(session, family=family, config=config)


async def _token_row(
    session: AsyncSession, raw: str, kind: TokenKind
) -> tuple[ApiToken, TokenFamily, User, Organization] | None:
    row = (
        await session.execute(_TOKEN_ROW, {"token_hash": hash_token(raw), "kind": kind})
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _family_alive(family: TokenFamily, user: User) -> bool:
    return family.revoked_at is None and user.is_active and family.auth_version == user.auth_version


@dataclass(frozen=True, slots=True)
class ResolvedToken:
    actor: Actor
    user: User
    organization: Organization


async def resolve_access_token(session: AsyncSession, *, token: str) -> ResolvedToken:
    await scope_by_lookup(session, ApiToken.token_hash, hash_token(token))
    found = await _token_row(session, token, TokenKind.ACCESS)
    if found is None:
        raise NotAuthenticated("The access token is not valid. Sign in again.")
    access, family, user, organization = found
    if access.expires_at <= utcnow() or not _family_alive(family, user):
        raise NotAuthenticated("The access token has expired or was revoked. Refresh it.")
    await scope_to_tenant(session, user.organization_id)
    return ResolvedToken(actor_for(user, session_id=family.id), user, organization)


async def refresh_api_tokens(
    session: AsyncSession, *, refresh_token: str, config: IdentityConfig
) -> IssuedTokens:
    """Rotate: the presented refresh token is spent and a new pair is issued. A spent
    token presented again revokes the whole family (it has been copied)."""
    await scope_by_lookup(session, ApiToken.token_hash, hash_token(refresh_token))
    found = await _token_row(session, refresh_token, TokenKind.REFRESH)
    if found is None:
        raise NotAuthenticated("The refresh token is not valid. Sign in again.")
    token, family, user, _ = found
    actor = actor_for(user, session_id=family.id)
    if token.used_at is not None:
        _revoke_after_rollback(
            session, family_id=family.id, organization_id=user.organization_id, actor=actor
        )
        raise NotAuthenticated("This refresh token was already used; all its tokens are revoked.")
    if token.expires_at <= utcnow() or not _family_alive(family, user):
        raise NotAuthenticated("The refresh token has expired or was revoked. Sign in again.")
    token.used_at = utcnow()
    await scope_to_tenant(session, user.organization_id)
    return await _issue_pair(session, family=family, config=config)


def _revoke_after_rollback(
    session: AsyncSession, *, family_id: uuid.UUID, organization_id: uuid.UUID, actor: Actor
) -> None:
    """The request fails (401), yet the revocation and its audit entry must stand."""

    async def revoke() -> None:
        async with independent_session(session) as independent:
            await scope_to_tenant(independent, organization_id)
            family = await independent.get(TokenFamily, family_id)
            if family is None or family.revoked_at is not None:
                return
            family.revoked_at = utcnow()
            family.revoked_reason = "refresh-token-reuse"
            await audit.record(
                independent,
                action="auth.refresh_token_reused",
                actor=actor,
                outcome=Outcome.DENIED,
                resource_type="token_family",
                resource_id=family_id,
            )

    on_rollback(session, revoke)


async def revoke_token_family(session: AsyncSession, *, actor: Actor) -> None:
    family = await session.get(TokenFamily, actor.session_id)
    if family is not None and family.revoked_at is None:
        family.revoked_at = utcnow()
        family.revoked_reason = "logout"
        await audit.record(
            session,
            action="auth.logout",
            actor=actor,
            resource_type="token_family",
            resource_id=family.id,
        )
