"""Staff and portal accounts: create, invite, roles, deactivate, profile, password."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.errors import Forbidden, InvalidField
from clinicdesk.core.jobs.mail import send_mail
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.core.names import clean_name
from clinicdesk.core.pagination import decode_cursor, encode_cursor
from clinicdesk.core.tenancy import (
    organization_of,
    scope_by_lookup,
)
from clinicdesk.core.tokens import hash_token, new_token
from clinicdesk.identity import passwords
from clinicdesk.identity.config import IdentityConfig, LinkConfig
from clinicdesk.identity.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    LastAdmin,
)
from clinicdesk.identity.models import OneTimePurpose, OneTimeToken, Organization, User, UserKind
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import mail_texts
from clinicdesk.identity.service.common import (
    get_user,
    normalize_email,
    own_organization_id,
    own_user_id,
)
from clinicdesk.identity.service.mfa import clear_mfa
from clinicdesk.identity.service.sessions import revoke_everything


def _person_name(value: str) -> str:
    """A person's name by the rules of ``core.names`` (hidden characters refused): the
    CLI, the demo and the account form reach here without a request schema."""
    try:
        return clean_name(value, field="Name")
    except ValueError as error:
        raise InvalidField("full_name", str(error)) from None


async def _ensure_email_free(session: AsyncSession, email: str) -> None:
    """Addresses are unique across the installation (sign-in asks for no organization),
    so the check looks across organizations: a tenant-scoped lookup misses another
    clinic's account, and the insert then failed on the unique index with a 500. The
    answer is the same 409 whichever clinic has the address."""
    # On PostgreSQL the server's role cannot see other clinics' users; the narrow lookup
    # answers with the owning organization's id only.
    taken = await organization_of(session, User.email, normalize_email(email)) is not None
    if taken:
        raise EmailTaken("An account with this e-mail address already exists.")


async def check_new_password(
    session: AsyncSession, password: str, *, email: str, name: str, organization_id: uuid.UUID
) -> None:
    """The password policy with what the password must not be built from: the person's
    name and e-mail address and their clinic's name. Every way of setting a password
    (create, invitation, reset, change; web, API and CLI alike) comes through here."""
    organization = await session.get(Organization, organization_id)
    await passwords.enforce(
        password, email=email, name=name, organization=organization.name if organization else None
    )


async def create_user(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: uuid.UUID,
    email: str,
    full_name: str,
    roles: list[Role],
    password: str | None,
    kind: UserKind = UserKind.STAFF,
    email_verified: bool = False,
    patient_id: uuid.UUID | None = None,
) -> User:
    """A user with a password (CLI, demo) or without one (invited: the invitation sets
    it). The password must pass the policy."""
    email = normalize_email(email)
    full_name = _person_name(full_name)
    await _ensure_email_free(session, email)
    if password is not None:
        await check_new_password(
            session, password, email=email, name=full_name, organization_id=organization_id
        )
    user = User(
        organization_id=organization_id,
        email=email,
        full_name=full_name,
        kind=kind,
        patient_id=patient_id,
        roles=sorted({str(r) for r in roles}),
        password_hash=await passwords.hash_password(password) if password else None,
        password_changed_at=utcnow() if password else None,
        email_verified_at=utcnow() if email_verified else None,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        action="user.created",
        actor=actor,
        organization_id=organization_id,
        resource_type="user",
        resource_id=user.id,
        changes=audit.changes(None, audit.snapshot(user)),
    )
    return user


async def one_time_link(
    session: AsyncSession, *, user: User, purpose: OneTimePurpose, config: LinkConfig, path: str
) -> str:
    raw, hashed = new_token()
    ttl = config.invitation_ttl if purpose == OneTimePurpose.INVITATION else config.link_ttl
    session.add(
        OneTimeToken(
            organization_id=user.organization_id,
            user_id=user.id,
            purpose=purpose,
            token_hash=hashed,
            expires_at=utcnow() + ttl,
        )
    )
    await session.flush()
    # Built from the configured public address, never from the request's Host header.
    return f"{config.base_url}{path}?token={raw}"


async def invite_user(
    session: AsyncSession,
    *,
    actor: Actor,
    email: str,
    full_name: str,
    roles: list[Role],
    config: IdentityConfig,
    patient_id: uuid.UUID | None = None,
) -> User:
    """Create the account without a password and e-mail a link to set one. The e-mail
    is queued as a job in this transaction and sent after it commits. With
    ``patient_id``: a patient-portal account bound to that record (no roles: it sees only
    its own record)."""
    user = await create_user(
        session,
        actor=actor,
        organization_id=own_organization_id(actor),
        email=email,
        full_name=full_name,
        roles=[] if patient_id else roles,
        password=None,
        kind=UserKind.PATIENT if patient_id else UserKind.STAFF,
        patient_id=patient_id,
    )
    link = await one_time_link(
        session,
        user=user,
        purpose=OneTimePurpose.INVITATION,
        config=config,
        path="/invitations/accept",
    )
    await audit.record(
        session, action="user.invited", actor=actor, resource_type="user", resource_id=user.id
    )
    hours = int(config.invitation_ttl.total_seconds() // 3600)
    clinic = await mail_texts.clinic_name(session, user.organization_id)
    write = mail_texts.portal_invitation if patient_id else mail_texts.staff_invitation
    await send_mail(session, write(user, clinic=clinic, link=link, hours=hours))
    return user


async def consume_link(
    session: AsyncSession, *, token: str, purpose: OneTimePurpose
) -> tuple[OneTimeToken, User]:
    """The user behind a single-use link; the link is spent. Expired, used or unknown
    links all get the same answer."""
    row = (
        await session.execute(
            select(OneTimeToken, User)
            .join(User, User.id == OneTimeToken.user_id)
            .where(OneTimeToken.token_hash == hash_token(token), OneTimeToken.purpose == purpose)
        )
    ).one_or_none()
    if row is None:
        raise InvalidToken("This link is not valid. Ask for a new one.")
    link, user = row
    if link.used_at is not None or link.expires_at <= utcnow() or not user.is_active:
        raise InvalidToken("This link has expired or was already used. Ask for a new one.")
    link.used_at = utcnow()
    return link, user


def _admins_left(users: list[User], *, without: uuid.UUID) -> int:
    return sum(
        1 for u in users if u.id != without and u.is_active and Role.ADMIN in (u.roles or ())
    )


async def _guard_last_admin(session: AsyncSession, user: User) -> None:
    if Role.ADMIN not in (user.roles or ()):
        return
    admins = list(
        (await session.execute(select(User).where(User.kind == UserKind.STAFF))).scalars()
    )
    if _admins_left(admins, without=user.id) == 0:
        raise LastAdmin("This is the last active admin; make someone else admin first.")


async def change_roles(
    session: AsyncSession,
    *,
    actor: Actor,
    user_id: uuid.UUID,
    roles: list[Role],
    expected_version: int | None = None,
) -> User:
    """Set a user's roles. Removing any role ends their sessions and tokens at once."""
    user = await get_user(session, user_id)
    check_version(user, expected_version)
    new_roles = sorted({str(r) for r in roles})
    removed = set(user.roles or ()) - set(new_roles)
    if Role.ADMIN in removed:
        await _guard_last_admin(session, user)
    before = audit.snapshot(user)
    user.roles = new_roles
    if removed:
        await revoke_everything(session, user=user, reason="roles-changed")
    await session.flush()
    await audit.record(
        session,
        action="user.roles_changed",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        changes=audit.changes(before, audit.snapshot(user)),
    )
    return user


async def set_active(
    session: AsyncSession, *, actor: Actor, user_id: uuid.UUID, active: bool
) -> User:
    """Deactivate (ends every session and token at once) or reactivate an account."""
    user = await get_user(session, user_id)
    if user.id == actor.user_id and not active:
        raise Forbidden("You cannot deactivate your own account.")
    if user.is_active == active:
        return user
    if not active:
        await _guard_last_admin(session, user)
    before = audit.snapshot(user)
    user.is_active = active
    if not active:
        await revoke_everything(session, user=user, reason="deactivated")
    await session.flush()
    await audit.record(
        session,
        action="user.reactivated" if active else "user.deactivated",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        changes=audit.changes(before, audit.snapshot(user)),
    )
    return user


async def reset_mfa(session: AsyncSession, *, actor: Actor, user_id: uuid.UUID) -> User:
    """Remove someone's authenticator and recovery codes (lost phone); they enrol again at
    their next sign-in. Ends their sessions."""
    user = await get_user(session, user_id)
    await clear_mfa(session, user=user)
    await revoke_everything(session, user=user, reason="mfa-reset")
    await audit.record(
        session, action="auth.mfa_reset", actor=actor, resource_type="user", resource_id=user.id
    )
    return user


async def list_users(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[User], str | None]:
    offset = decode_cursor(cursor)
    rows = list(
        (
            await session.execute(
                select(User).order_by(User.full_name, User.id).offset(offset).limit(limit + 1)
            )
        ).scalars()
    )
    next_cursor = encode_cursor(offset + limit) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def names_of(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of the organization's users among ``user_ids`` (for reports)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    return {row.id: row.full_name for row in rows}


async def update_profile(
    session: AsyncSession, *, actor: Actor, full_name: str, expected_version: int | None = None
) -> User:
    """The name follows the rules of every person's name (``core.names``)."""
    full_name = _person_name(full_name)
    user = await get_user(session, own_user_id(actor))
    check_version(user, expected_version)
    before = audit.snapshot(user)
    user.full_name = full_name
    await session.flush()
    await audit.record(
        session,
        action="user.profile_updated",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        changes=audit.changes(before, audit.snapshot(user)),
    )
    return user


async def change_password(
    session: AsyncSession, *, actor: Actor, current_password: str, new_password: str
) -> User:
    """Needs the current password. Ends every session and token of the account (the
    caller signs the current device in again)."""
    user = await get_user(session, own_user_id(actor))
    if not await passwords.verify_password(user.password_hash, current_password):
        raise InvalidCredentials("Your current password is not right.")
    await check_new_password(
        session,
        new_password,
        email=user.email,
        name=user.full_name,
        organization_id=user.organization_id,
    )
    user.password_hash = await passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    await revoke_everything(session, user=user, reason="password-changed")
    await audit.record(
        session,
        action="auth.password_changed",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
    )
    return user


async def set_password_from_link(
    session: AsyncSession, *, token: str, purpose: OneTimePurpose, new_password: str
) -> User:
    """Invitation acceptance or password reset. It never signs in: the next sign-in still
    asks for the second factor, so a reset link alone cannot bypass MFA."""
    # The link is all the caller has: who it belongs to (and so the tenant) is found
    # by looking it up across organizations.
    await scope_by_lookup(session, OneTimeToken.token_hash, hash_token(token))
    _link, user = await consume_link(session, token=token, purpose=purpose)
    await check_new_password(
        session,
        new_password,
        email=user.email,
        name=user.full_name,
        organization_id=user.organization_id,
    )
    user.password_hash = await passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    # Receiving the link proves the mailbox.
    user.email_verified_at = user.email_verified_at or utcnow()
    await revoke_everything(session, user=user, reason="password-reset")
    action = (
        "user.invitation_accepted"
        if purpose == OneTimePurpose.INVITATION
        else ("auth.password_reset")
    )
    await audit.record(
        session,
        action=action,
        actor=SYSTEM,
        organization_id=user.organization_id,
        resource_type="user",
        resource_id=user.id,
    )
    return user


async def active_staff_with_role(session: AsyncSession, role: str) -> list[uuid.UUID]:
    """The organization's active staff members who hold ``role`` (whom a role's alert
    reaches). Roles are a JSON list, read here rather than matched in SQL: the same on
    both databases, and an organization's staff is a few hundred rows at most."""
    rows = await session.execute(
        select(User.id, User.roles).where(User.kind == UserKind.STAFF, User.is_active.is_(True))
    )
    return [row.id for row in rows if role in (row.roles or [])]
