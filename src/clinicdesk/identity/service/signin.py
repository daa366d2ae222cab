"""Signing in with a password (and a second factor when the account has one).

Failures give one generic answer and cost the same time whether or not the account
exists (a dummy hash is checked). Throttles count failures, per account and per client
address; a throttled attempt is answered 429 with Retry-After and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.audit.public import Outcome
from clinicdesk.core.actor import ANONYMOUS
from clinicdesk.core.context import current_request
from clinicdesk.core.models import utcnow
from clinicdesk.core.ratelimit import RateLimited, Rule
from clinicdesk.core.tenancy import scope_by_lookup, use_system_scope
from clinicdesk.core.tokens import hash_token
from clinicdesk.identity import passwords
from clinicdesk.identity.config import (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    MFA_PER_ACCOUNT,
    IdentityConfig,
)
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.service.common import actor_for, normalize_email, user_by_email
from clinicdesk.identity.service.mfa import verify_second_factor

GENERIC_FAILURE = "The e-mail address or password is not right."


class SignInStatus(StrEnum):
    SIGNED_IN = "signed-in"
    SECOND_FACTOR_NEEDED = "second-factor-needed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SignInResult:
    status: SignInStatus
    user: User | None = None
    organization: Organization | None = None


async def _throttle(
    session: AsyncSession, config: IdentityConfig, rule: Rule, key: str, *, record: bool
) -> None:
    decision = await (config.limiter.hit if record else config.limiter.test)(rule, key)
    if not decision.allowed:
        audit.record_if_rolled_back(
            session,
            action="auth.locked_out",
            actor=ANONYMOUS,
            outcome=Outcome.DENIED,
            details={"rule": rule.name, "key": hash_token(key)[:16]},
        )
        raise RateLimited.from_decision(decision)


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    second_factor: str | None,
    config: IdentityConfig,
    channel: str,
) -> SignInResult:
    """Check the credentials. Returns (never raises) a failure, so its audit entry and the
    throttle count are committed with the request."""
    await use_system_scope(session)
    address = current_request().client_addr or "unknown"
    # Only failures count: staff behind one clinic router share an address, and their
    # daily sign-ins must never lock each other out.
    await _throttle(session, config, LOGIN_PER_ADDRESS, address, record=False)
    await _throttle(session, config, LOGIN_PER_ACCOUNT, email, record=False)

    # The account's organization, if there is one; the rest happens inside it.
    await scope_by_lookup(session, User.email, normalize_email(email))
    user = await user_by_email(session, email)
    password_ok = await passwords.verify_password(user.password_hash if user else None, password)
    organization = (
        await session.get(Organization, user.organization_id) if user is not None else None
    )
    usable = (
        user is not None
        and password_ok
        and user.is_active
        and organization is not None
        and organization.is_active
    )
    if not usable or user is None:
        await config.limiter.hit(LOGIN_PER_ACCOUNT, email)
        await config.limiter.hit(LOGIN_PER_ADDRESS, address)
        await audit.record(
            session,
            action="auth.login_failed",
            actor=actor_for(user) if user is not None else ANONYMOUS,
            organization_id=user.organization_id if user is not None else None,
            outcome=Outcome.FAILURE,
            resource_type="user" if user is not None else None,
            resource_id=user.id if user is not None else None,
            details={"channel": channel, **({} if user else {"account": hash_token(email)[:16]})},
        )
        return SignInResult(SignInStatus.FAILED)

    if user.mfa_enabled:
        if not second_factor:
            return SignInResult(SignInStatus.SECOND_FACTOR_NEEDED, user, organization)
        if not await check_second_factor(session, user=user, code=second_factor, config=config):
            return SignInResult(SignInStatus.FAILED)

    await complete_sign_in(session, user=user, config=config, channel=channel, password=password)
    return SignInResult(SignInStatus.SIGNED_IN, user, organization)


async def check_second_factor(
    session: AsyncSession, *, user: User, code: str, config: IdentityConfig
) -> bool:
    """Verify a TOTP or recovery code, throttled per account; failures are recorded."""
    await _throttle(session, config, MFA_PER_ACCOUNT, str(user.id), record=False)
    method = await verify_second_factor(session, user=user, code=code)
    actor = actor_for(user)
    if method is None:
        await config.limiter.hit(MFA_PER_ACCOUNT, str(user.id))
        await audit.record(
            session,
            action="auth.mfa_failed",
            actor=actor,
            outcome=Outcome.FAILURE,
            resource_type="user",
            resource_id=user.id,
        )
        return False
    await config.limiter.clear(MFA_PER_ACCOUNT, str(user.id))
    await audit.record(
        session,
        action="auth.mfa_used",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        details={"method": method},
    )
    return True


async def complete_sign_in(
    session: AsyncSession,
    *,
    user: User,
    config: IdentityConfig,
    channel: str,
    password: str | None = None,
) -> None:
    await config.limiter.clear(LOGIN_PER_ACCOUNT, user.email)
    user.last_login_at = utcnow()
    if password is not None and user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password(password)
    await audit.record(
        session,
        action="auth.login",
        actor=actor_for(user),
        resource_type="user",
        resource_id=user.id,
        details={"channel": channel},
    )
