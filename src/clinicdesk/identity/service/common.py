"""Small pieces the identity use cases share."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.identity.errors import NotAuthenticated, UserNotFound
from clinicdesk.identity.models import User, UserKind
from clinicdesk.identity.permissions import permissions_for


def normalize_email(email: str) -> str:
    return email.strip().lower()


def actor_for(user: User, *, session_id: uuid.UUID | None = None) -> Actor:
    roles = frozenset(user.roles or ())
    return Actor(
        kind=ActorKind.PATIENT if user.kind == UserKind.PATIENT else ActorKind.STAFF,
        user_id=user.id,
        organization_id=user.organization_id,
        roles=roles,
        permissions=permissions_for(roles) if user.kind == UserKind.STAFF else frozenset(),
        patient_id=user.patient_id,
        session_id=session_id,
    )


def own_user_id(actor: Actor) -> uuid.UUID:
    """The signed-in user's id (a system or anonymous actor has none)."""
    if actor.user_id is None:
        raise NotAuthenticated("Sign in first.")
    return actor.user_id


def own_organization_id(actor: Actor) -> uuid.UUID:
    if actor.organization_id is None:
        raise NotAuthenticated("Sign in first.")
    return actor.organization_id


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        await session.execute(select(User).where(User.email == normalize_email(email)))
    ).scalar_one_or_none()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    """A user of the session's organization (another organization's user is not found)."""
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
    if user is None:
        raise UserNotFound("There is no such user in your organization.")
    return user
