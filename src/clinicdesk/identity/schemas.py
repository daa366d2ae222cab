"""Request and response shapes of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from clinicdesk.core.names import PersonName
from clinicdesk.core.schemas import Strict, safe_text
from clinicdesk.identity.permissions import Role


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    kind: str
    roles: list[str]
    is_active: bool
    mfa_enabled: bool
    email_verified_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    version: int


class UserInvite(Strict):
    email: str = Field(max_length=254)
    full_name: PersonName = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)

    _check_email = field_validator("email")(_email)


class RolesUpdate(Strict):
    roles: list[Role] = Field(min_length=1)


class ProfileUpdate(Strict):
    full_name: PersonName = Field(min_length=1, max_length=200)


class PasswordChange(Strict):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    time_zone: str
    locale: str
    currency: str
    country: str
    date_format: str
    mfa_required_for_admins: bool
    mfa_required_for_staff: bool
    version: int


class DateFormat(StrEnum):
    """The ways of writing a date that the UI reads and shows."""

    ISO = "YYYY-MM-DD"
    DAY_FIRST = "DD/MM/YYYY"
    MONTH_FIRST = "MM/DD/YYYY"
    DAY_FIRST_DOTS = "DD.MM.YYYY"


def _time_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError("unknown time zone; use an IANA name such as Europe/Berlin")
    return value


def _currency(value: str) -> str:
    value = value.upper()
    if len(value) != 3 or not value.isalpha():
        raise ValueError("use a three-letter ISO 4217 code such as EUR")
    return value


class OrganizationUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    currency: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    date_format: DateFormat | None = None
    mfa_required_for_admins: bool | None = None
    mfa_required_for_staff: bool | None = None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return _time_zone(value) if value is not None else None

    @field_validator("currency")
    @classmethod
    def _cur(cls, value: str | None) -> str | None:
        return _currency(value) if value is not None else None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    address: str
    phone: str
    rooms: list[str]
    time_zone: str | None
    is_active: bool
    version: int


MAX_ROOMS = 200
RoomName = Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(safe_text)]
"""A room as a call names it on the screens ("Room 3"): the Rooms page and the location
form (its list of rooms) hold rooms to the same rule."""


def _distinct_rooms(rooms: list[str]) -> list[str]:
    seen: set[str] = set()
    for room in rooms:
        if room.casefold() in seen:
            raise ValueError(f"{room!r} is listed twice (rooms are the same whatever the case)")
        seen.add(room.casefold())
    return rooms


class LocationWrite(Strict):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=2000)
    phone: str = Field(default="", max_length=32)
    rooms: Annotated[list[RoomName], AfterValidator(_distinct_rooms)] = Field(
        default_factory=list, max_length=MAX_ROOMS
    )
    # Empty: the organization's time zone.
    time_zone: str | None = Field(default=None, max_length=64)
    is_active: bool = True

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return _time_zone(value) if value else None


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_addr: str | None
    user_agent: str | None
    current: bool = False


class MfaEnrolmentRead(BaseModel):
    secret: str
    otpauth_uri: str


class MfaCode(Strict):
    code: str = Field(min_length=6, max_length=16)


class RecoveryCodesRead(BaseModel):
    recovery_codes: list[str]


class PasswordResetRequest(Strict):
    email: str = Field(max_length=254)


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(max_length=1024)


class RoomWrite(Strict):
    """One room of a location, as a call names it on the screens ("Room 3")."""

    name: RoomName

    @field_validator("name", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value
