"""Errors of the identity domain, each with the status it answers with."""

from __future__ import annotations

from typing import ClassVar

from clinicdesk.core.errors import ClinicError, Conflict, NotFound


class NotAuthenticated(ClinicError):
    status_code = 401
    title = "Sign-in required"
    code = "not-authenticated"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class InvalidCredentials(ClinicError):
    status_code = 401
    title = "Sign-in failed"
    code = "invalid-credentials"


class SecondFactorRequired(ClinicError):
    status_code = 401
    title = "Authentication code required"
    code = "mfa-required"


class MfaEnrolmentRequired(ClinicError):
    status_code = 403
    title = "Set up two-factor authentication first"
    code = "mfa-enrolment-required"


class CsrfRejected(ClinicError):
    status_code = 403
    title = "The form expired"
    code = "csrf"


class PasswordRejected(ClinicError):
    status_code = 400
    title = "Password not accepted"
    code = "password-rejected"


class InvalidToken(ClinicError):
    status_code = 400
    title = "The link or token is not valid"
    code = "invalid-token"


class UserNotFound(NotFound):
    code = "user-not-found"


class LocationNotFound(NotFound):
    code = "location-not-found"


class SessionNotFound(NotFound):
    code = "session-not-found"


class EmailTaken(Conflict):
    code = "email-taken"


class LastAdmin(Conflict):
    code = "last-admin"


class RoomRefused(Conflict):
    """A room that is there already, or no longer there to remove."""

    title = "This room change is not possible"
    code = "room-refused"
