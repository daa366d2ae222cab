"""TOTP two-factor authentication with one-time recovery codes.

A code is accepted within one 30-second step either side of now (clock drift) and never
twice: the last accepted time step is stored. Recovery codes are stored hashed and each
works once. The TOTP secret is stored encrypted (field encryption).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.tokens import hash_token
from clinicdesk.identity.errors import InvalidToken
from clinicdesk.identity.models import Organization, RecoveryCode, User
from clinicdesk.identity.permissions import Role

ISSUER = "ClinicDesk"
RECOVERY_CODES = 10


def mfa_required(user: User, organization: Organization) -> bool:
    """The organization's rule: admins must (on by default), other staff when it says so."""
    if user.kind != "staff":
        return False
    if Role.ADMIN in (user.roles or ()) and organization.mfa_required_for_admins:
        return True
    return organization.mfa_required_for_staff


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg_data_uri: str


async def begin_enrolment(session: AsyncSession, *, user: User) -> Enrolment:
    """A new secret, pending until a code from it is confirmed. Re-enrolling while MFA is
    on is refused: reset it first (an admin can)."""
    if user.mfa_enabled:
        raise InvalidToken("Two-factor authentication is already on for this account.")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg_data_uri=qr)


def _accept_totp(user: User, code: str) -> bool:
    if not user.totp_secret:
        return False
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now_step = totp.timecode(utcnow())
    for step in (now_step - 1, now_step, now_step + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


async def confirm_enrolment(
    session: AsyncSession, *, user: User, actor: Actor, code: str
) -> list[str]:
    """Turn MFA on once a code from the pending secret checks out; returns the recovery
    codes, which are shown once and stored only as hashes."""
    if user.mfa_enabled or not user.totp_secret:
        raise InvalidToken("Start the set-up again: there is no pending authenticator.")
    if not _accept_totp(user, code):
        raise InvalidToken("That code is not right. Check the time on your phone and try again.")
    user.totp_enabled_at = utcnow()
    codes = await _new_recovery_codes(session, user=user)
    await audit.record(
        session,
        action="auth.mfa_enrolled",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
    )
    return codes


async def _new_recovery_codes(session: AsyncSession, *, user: User) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(
            RecoveryCode(
                organization_id=user.organization_id, user_id=user.id, code_hash=hash_token(code)
            )
        )
    await session.flush()
    return codes


async def verify_second_factor(session: AsyncSession, *, user: User, code: str) -> str | None:
    """``"totp"`` or ``"recovery-code"`` when ``code`` is accepted (a recovery code is
    used up), else None."""
    if _accept_totp(user, code):
        return "totp"
    candidate = code.strip().lower()
    if len(candidate) == 11 and candidate[5] == "-":
        row = (
            await session.execute(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.code_hash == hash_token(candidate),
                    RecoveryCode.used_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            row.used_at = utcnow()
            return "recovery-code"
    return None


async def remaining_recovery_codes(session: AsyncSession, *, user: User) -> int:
    rows = await session.execute(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


async def clear_mfa(session: AsyncSession, *, user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await session.flush()
