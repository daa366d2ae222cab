"""Identity's part of the pages: who is signed in (the layout's context), the session
cookie, public forms before sign-in, safe redirects, and how sessions and audit values
are shown. The toolkit every page uses (render, redirect, flash) is ``core.pages``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import pass_context
from jinja2.runtime import Context

from clinicdesk.core.csrf import CsrfProtection
from clinicdesk.core.dates import ISO, format_local_date
from clinicdesk.core.pages import render
from clinicdesk.core.templating import date_format_of, format_local_time
from clinicdesk.identity.auth import Principal, csrf_protection, identity_config
from clinicdesk.identity.config import IdentityConfig


def signed_in_context(request: Request) -> Mapping[str, Any]:
    """Context processor: who is signed in and the CSRF token of their session."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        return {"me": None, "actor": None, "csrf_token": None, "admitted": False}
    token = (
        csrf_protection(request).token_for_session(principal.web.token)
        if principal.web is not None
        else None
    )
    # Past every sign-in step (no second factor or MFA set-up owed; noted by the gate):
    # what the header loads by itself (the alert bell) is for such sessions only.
    admitted = getattr(request.state, "admitted", False) is True
    return {"me": principal.me, "actor": principal.actor, "csrf_token": token, "admitted": admitted}


def render_public_form(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page with a form used before sign-in: carries the anonymous CSRF token."""
    protection = csrf_protection(request)
    token, new_seed = protection.anonymous_token(request)
    page = render(request, name, {**(context or {}), "csrf_token": token}, status_code=status_code)
    if new_seed is not None:
        protection.set_anonymous_seed(request, page, new_seed)
    return page


async def check_public_csrf(request: Request) -> bool:
    protection: CsrfProtection = csrf_protection(request)
    return await protection.valid_anonymous(request)


def safe_next(target: str | None) -> str:
    """Only paths on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def set_session_cookie(
    response: HTMLResponse | RedirectResponse, config: IdentityConfig, token: str
) -> None:
    response.set_cookie(
        config.session_cookie,
        token,
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
        path="/",
        # No max-age: a browser session cookie; the server enforces idle and absolute ends.
    )


def clear_session_cookie(response: RedirectResponse, request: Request) -> None:
    config = identity_config(request)
    response.delete_cookie(
        config.session_cookie, path="/", secure=config.secure_cookies, httponly=True, samesite="lax"
    )


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str | None) -> str:
    """``Chrome on Windows`` from a user-agent string, for the sessions list."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for token, name in _BROWSERS if token in user_agent), "Browser")
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    return f"{browser} on {system}" if system else browser


def format_audit_value(value: object, time_zone: str | None = None, date_format: str = ISO) -> str:
    """A before/after value of the audit trail, written for people: times in the
    organization's zone, dates and times in its date format."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(format_audit_value(v, time_zone, date_format) for v in value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return format_local_time(datetime.fromisoformat(value), time_zone, date_format)
        except ValueError:
            return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return format_local_date(date.fromisoformat(value), date_format)
        except ValueError:
            return value
    return str(value)


@pass_context
def audit_value(context: Context, value: object, time_zone: str | None = None) -> str:
    """The template filter: ``format_audit_value`` in the signed-in organization's format."""
    return format_audit_value(value, time_zone, date_format_of(context))
