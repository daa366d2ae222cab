"""The e-mails identity sends, written in the clinic's name: a patient or a new colleague
reads which clinic writes to them (never "Your clinic"); ClinicDesk is only the product
they sign in to."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.mail import OutgoingMail
from clinicdesk.identity.models import Organization, User

FALLBACK_NAME = "Your clinic"  # only for an organization that is gone


async def clinic_name(session: AsyncSession, organization_id: uuid.UUID) -> str:
    organization = await session.get(Organization, organization_id)
    return organization.name if organization is not None else FALLBACK_NAME


def portal_invitation(user: User, *, clinic: str, link: str, hours: int) -> OutgoingMail:
    return OutgoingMail(
        to=user.email,
        subject=f"Your patient portal account at {clinic}",
        text=(
            f"Hello {user.full_name},\n\n"
            f"{clinic} invites you to its patient portal, where you can see your record "
            f"and your appointments. Choose your password here (the link works once, for "
            f"{hours} hours):\n\n{link}\n\nIf you did not expect this, ignore this message.\n\n"
            f"{clinic}"
        ),
    )


def staff_invitation(user: User, *, clinic: str, link: str, hours: int) -> OutgoingMail:
    return OutgoingMail(
        to=user.email,
        subject=f"You are invited to {clinic} on ClinicDesk",
        text=(
            f"Hello {user.full_name},\n\n"
            f"You have been invited to {clinic}'s ClinicDesk. Choose your password here "
            f"(the link works once, for {hours} hours):\n\n{link}\n\n"
            f"If you did not expect this, ignore this message.\n\n{clinic}"
        ),
    )


def password_reset(user: User, *, clinic: str, link: str, minutes: int) -> OutgoingMail:
    return OutgoingMail(
        to=user.email,
        subject=f"Reset your password for {clinic}",
        text=(
            f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset your "
            f"password for {clinic}'s ClinicDesk. Choose a new one here; the link works "
            f"once, for {minutes} minutes:\n\n{link}\n\nIf this was not you, ignore this "
            f"message: your password stays as it is.\n\n{clinic}"
        ),
    )


def email_verification(user: User, *, clinic: str, link: str) -> OutgoingMail:
    return OutgoingMail(
        to=user.email,
        subject=f"Confirm your e-mail address for {clinic}",
        text=(
            f"Hello {user.full_name},\n\nConfirm your e-mail address for {clinic}'s "
            f"ClinicDesk here:\n\n{link}\n\n{clinic}"
        ),
    )
