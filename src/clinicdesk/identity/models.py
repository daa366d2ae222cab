"""Tables of the identity domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.crypto import EncryptedText
from clinicdesk.core.models import Base, Entity, IdMixin, TimestampMixin
from clinicdesk.core.tenancy import TenantScoped


class Organization(Base, Entity):
    """A tenant: one clinic or one chain of clinics."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Where phone numbers without a country code belong (ISO 3166-1 alpha-2).
    country: Mapped[str] = mapped_column(String(2), default="US", server_default="US")
    # How people here write dates, e.g. a date of birth typed into the search box.
    date_format: Mapped[str] = mapped_column(
        String(10), default="MM/DD/YYYY", server_default="MM/DD/YYYY"
    )
    mfa_required_for_admins: Mapped[bool] = mapped_column(Boolean, default=True)
    mfa_required_for_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Location(Base, Entity, TenantScoped):
    __tablename__ = "locations"

    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    rooms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The zone its hours are kept in; empty means the organization's.
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class UserKind(StrEnum):
    STAFF = "staff"
    PATIENT = "patient"


class User(Base, Entity, TenantScoped):
    """A staff member or a patient's portal account. E-mail addresses are unique across
    the installation (stored lower-case), so sign-in needs no organization field."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=UserKind.STAFF)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The patient record a portal account belongs to.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), default=None, index=True
    )
    password_hash: Mapped[str | None] = mapped_column(
        String(200), default=None, info={"audit": "secret"}
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    # Bumped on deactivation, role change, password change, MFA reset: outstanding
    # sessions and tokens carry the value they were issued under and stop working.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None


class WebSession(Base, IdMixin, TimestampMixin, TenantScoped):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    auth_version: Mapped[int] = mapped_column(Integer)
    mfa_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)


class TokenFamily(Base, IdMixin, TimestampMixin, TenantScoped):
    """One API sign-in: its refresh tokens rotate within the family; reusing an old one
    revokes the whole family."""

    __tablename__ = "token_families"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    auth_version: Mapped[int] = mapped_column(Integer)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (Index("ix_token_families_user_id", "user_id"),)


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class ApiToken(Base, IdMixin, TimestampMixin, TenantScoped):
    """An access or refresh token of a family; only the hash is stored."""

    __tablename__ = "api_tokens"

    family_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("token_families.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(Base, IdMixin, TimestampMixin, TenantScoped):
    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)


class OneTimePurpose(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name
    EMAIL_VERIFICATION = "email_verification"
    INVITATION = "invitation"


class OneTimeToken(Base, IdMixin, TimestampMixin, TenantScoped):
    """A single-use, short-lived link token (reset, verification, invitation)."""

    __tablename__ = "one_time_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
