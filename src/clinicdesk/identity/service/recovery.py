"""Password reset and e-mail verification by single-use links (30 minutes by default).

Asking for a reset answers the same, and does the same work, whether or not the address
has an account: the request only queues a job, which does the rest. It is throttled per
client address and per e-mail address. The link is built from the configured public
address, never from the request's Host header.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.context import current_request
from clinicdesk.core.jobs import JobKind, enqueue
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.models import utcnow
from clinicdesk.core.ratelimit import RateLimited
from clinicdesk.core.tenancy import scope_by_lookup, use_system_scope
from clinicdesk.core.tokens import hash_token
from clinicdesk.identity.config import (
    RESET_PER_ACCOUNT,
    RESET_PER_ADDRESS,
    IdentityConfig,
    LinkConfig,
)
from clinicdesk.identity.errors import InvalidToken
from clinicdesk.identity.models import OneTimePurpose, OneTimeToken, User
from clinicdesk.identity.service import mail_texts
from clinicdesk.identity.service.common import (
    get_user,
    normalize_email,
    own_user_id,
    user_by_email,
)
from clinicdesk.identity.service.users import consume_link, one_time_link

log = structlog.get_logger(__name__)


class PasswordResetPayload(BaseModel):
    # The address asked for (normalised), looked up by the job. The job machinery
    # encrypts payloads at rest and wipes them once the job has succeeded.
    email: str = Field(max_length=320)


PASSWORD_RESET = JobKind("identity.password_reset", PasswordResetPayload, max_attempts=5)


async def request_password_reset(
    session: AsyncSession, *, email: str, config: IdentityConfig
) -> None:
    """Throttle, then queue the ``identity.password_reset`` job with the address.

    The request does the same work whether or not the address has an account: it does
    not even look the address up. Finding the user, making the link, the audit entry and
    the mail all happen in the job, so neither the answer nor its timing tells whether an
    account exists (measured: the two paths took about 33 and 19 ms when the known one
    made the link in the request).
    """
    await use_system_scope(session)
    for rule, key in (
        (RESET_PER_ADDRESS, current_request().client_addr or "unknown"),
        (RESET_PER_ACCOUNT, normalize_email(email)),
    ):
        decision = await config.limiter.hit(rule, key)
        if not decision.allowed:
            raise RateLimited.from_decision(decision)
    # A system job: which organization it concerns is not known (nor to be learnt) here.
    await enqueue(session, PASSWORD_RESET, PasswordResetPayload(email=normalize_email(email)))


async def send_password_reset_link(
    session: AsyncSession, *, email: str, links: LinkConfig, requested_at: datetime
) -> None:
    """The job's work: e-mail a reset link to the account of ``email``, if there is an
    active one with a password (an invited user who never set one has nothing to reset).
    An unknown address does nothing and leaves no record of the address.

    At least once: when a reset link for this account was made since this request was
    queued (by an earlier run of this job that committed but was not marked done, or by
    a second request's job), that link answers it and nothing is sent again.
    """
    # The organization is learnt from the address (narrowly, on PostgreSQL: its id only).
    await scope_by_lookup(session, User.email, normalize_email(email))
    user = await user_by_email(session, email)
    if user is None or not user.is_active or user.password_hash is None:
        log.info("identity.password_reset_without_account")
        return
    already = await session.scalar(
        select(OneTimeToken.id).where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == OneTimePurpose.PASSWORD_RESET,
            OneTimeToken.created_at >= requested_at,
        )
    )
    if already is not None:
        return
    link = await one_time_link(
        session,
        user=user,
        purpose=OneTimePurpose.PASSWORD_RESET,
        config=links,
        path="/password/reset",
    )
    minutes = int(links.link_ttl.total_seconds() // 60)
    clinic = await mail_texts.clinic_name(session, user.organization_id)
    await send_mail(
        session,
        mail_texts.password_reset(user, clinic=clinic, link=link, minutes=minutes),
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
    clinic = await mail_texts.clinic_name(session, user.organization_id)
    await send_mail(session, mail_texts.email_verification(user, clinic=clinic, link=link))


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
