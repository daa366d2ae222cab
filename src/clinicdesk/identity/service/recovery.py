"""Password reset and e-mail verification by single-use links (30 minutes by default).

Asking for a reset answers the same whether or not the address has an account, and is
throttled per address and per account. The link is built from the configured public
address, never from the request's Host header.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import service as audit
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.context import current_request
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.mail import OutgoingMail
from clinicdesk.core.models import utcnow
from clinicdesk.core.ratelimit import RateLimited
from clinicdesk.core.tenancy import scope_by_lookup, use_system_scope
from clinicdesk.core.tokens import hash_token
from clinicdesk.identity.config import RESET_PER_ACCOUNT, RESET_PER_ADDRESS, IdentityConfig
from clinicdesk.identity.errors import InvalidToken
from clinicdesk.identity.models import OneTimePurpose, OneTimeToken, User
from clinicdesk.identity.service.common import (
    get_user,
    normalize_email,
    own_user_id,
    user_by_email,
)
from clinicdesk.identity.service.users import consume_link, one_time_link


async def request_password_reset(
    session: AsyncSession, *, email: str, config: IdentityConfig
) -> None:
    await use_system_scope(session)
    for rule, key in (
        (RESET_PER_ADDRESS, current_request().client_addr or "unknown"),
        (RESET_PER_ACCOUNT, email),
    ):
        decision = await config.limiter.hit(rule, key)
        if not decision.allowed:
            raise RateLimited.from_decision(decision)
    await scope_by_lookup(session, User.email, normalize_email(email))
    user = await user_by_email(session, email)
    if user is None or not user.is_active or user.password_hash is None:
        return  # same answer either way: no account discovery through this form
    link = await one_time_link(
        session,
        user=user,
        purpose=OneTimePurpose.PASSWORD_RESET,
        config=config,
        path="/password/reset",
    )
    minutes = int(config.link_ttl.total_seconds() // 60)
    await send_mail(
        session,
        OutgoingMail(
            to=user.email,
            subject="Reset your ClinicDesk password",
            text=(
                f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset your "
                f"ClinicDesk password. Choose a new one here; the link works once, for "
                f"{minutes} minutes:\n\n{link}\n\nIf this was not you, ignore this message: "
                "your password stays as it is."
            ),
        ),
        organization_id=user.organization_id,
    )
    await audit.record(
        session,
        action="auth.password_reset_requested",
        actor=SYSTEM,
        organization_id=user.organization_id,
        resource_type="user",
        resource_id=user.id,
    )


async def send_email_verification(
    session: AsyncSession, *, actor: Actor, config: IdentityConfig
) -> None:
    user = await get_user(session, own_user_id(actor))
    if user.email_verified_at is not None:
        raise InvalidToken("Your e-mail address is already verified.")
    link = await one_time_link(
        session,
        user=user,
        purpose=OneTimePurpose.EMAIL_VERIFICATION,
        config=config,
        path="/verify-email",
    )
    await send_mail(
        session,
        OutgoingMail(
            to=user.email,
            subject="Confirm your e-mail address for ClinicDesk",
            text=f"Hello {user.full_name},\n\nConfirm your e-mail address here:\n\n{link}\n",
        ),
    )


async def verify_email(session: AsyncSession, *, token: str) -> User:
    await scope_by_lookup(session, OneTimeToken.token_hash, hash_token(token))
    _link, user = await consume_link(
        session, token=token, purpose=OneTimePurpose.EMAIL_VERIFICATION
    )
    user.email_verified_at = user.email_verified_at or utcnow()
    await audit.record(
        session,
        action="auth.email_verified",
        actor=SYSTEM,
        organization_id=user.organization_id,
        resource_type="user",
        resource_id=user.id,
    )
    return user
