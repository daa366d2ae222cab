"""What the identity services need from the running application."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from clinicdesk.core.mail import MailSender
from clinicdesk.core.ratelimit import RateLimiter, Rule

# Throttles. Sign-in failures count per account and per client address.
LOGIN_PER_ACCOUNT = Rule("login-account", "5/15 minutes")
LOGIN_PER_ADDRESS = Rule("login-address", "50/15 minutes")
MFA_PER_ACCOUNT = Rule("mfa-account", "5/15 minutes")
RESET_PER_ACCOUNT = Rule("reset-account", "3/1 hour")
RESET_PER_ADDRESS = Rule("reset-address", "10/1 hour")

# How long single-use links work.
LINK_TTL = timedelta(minutes=30)  # password reset, e-mail verification
INVITATION_TTL = timedelta(hours=72)


class LinkConfig(Protocol):
    """What building a single-use link needs: ``IdentityConfig`` in a request,
    ``LinkSettings`` in a background job (which has no request and no session cookie)."""

    @property
    def base_url(self) -> str: ...
    @property
    def link_ttl(self) -> timedelta: ...
    @property
    def invitation_ttl(self) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class LinkSettings:
    base_url: str
    link_ttl: timedelta = LINK_TTL
    invitation_ttl: timedelta = INVITATION_TTL


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    base_url: str
    session_idle: timedelta
    session_absolute: timedelta
    access_token_ttl: timedelta
    refresh_token_ttl: timedelta
    link_ttl: timedelta
    invitation_ttl: timedelta
    mailer: MailSender
    limiter: RateLimiter
    secure_cookies: bool

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix pins the cookie to this host, path /, https only.
        return "__Host-clinicdesk_session" if self.secure_cookies else "clinicdesk_session"
