"""Sign-in, the second factor and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clinicdesk.core.pages import flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import (
    CurrentPrincipal,
    IdentityConfigDep,
    SecondFactorStep,
)
from clinicdesk.identity.errors import NotAuthenticated
from clinicdesk.identity.service import organizations, sessions
from clinicdesk.identity.service.signin import (
    GENERIC_FAILURE,
    SignInStatus,
    check_second_factor,
    complete_sign_in,
    sign_in,
)
from clinicdesk.identity.views.common import NEXT_EXPIRED, Text
from clinicdesk.identity.web import (
    check_public_csrf,
    clear_session_cookie,
    render_public_form,
    safe_next,
    set_session_cookie,
)

public = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False)


def login_page(
    request: Request,
    *,
    clinic: str | None,
    error: str | None = None,
    email: str = "",
    next_url: str = "/",
    status_code: int = 200,
) -> HTMLResponse:
    """The sign-in form; ``clinic`` is ``organizations.sign_in_name``, looked up before
    the sign-in itself scopes the session to the account's organization."""
    return render_public_form(
        request,
        "identity/login.html",
        {"error": error, "email": email, "next": safe_next(next_url), "clinic": clinic},
        status_code=status_code,
    )


def _remembered_name(request: Request) -> str | None:
    """The clinic's name as the last sign-in form this process served found it. A
    refused sign-in re-renders the form with it rather than looking it up again: that
    look-up would open the request's transaction before sign-in and its throttle have
    decided what the request writes."""
    name = getattr(request.app.state, "sign_in_name", None)
    return name if isinstance(name, str) else None


@public.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, session: SessionDep, next: str = "/") -> HTMLResponse:
    clinic = await organizations.sign_in_name(session)
    request.app.state.sign_in_name = clinic
    return login_page(request, clinic=clinic, next_url=next)


@public.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    config: IdentityConfigDep,
    email: Annotated[str, Form(max_length=254)],
    password: Text,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    clinic = _remembered_name(request)
    if not await check_public_csrf(request):
        return login_page(
            request, clinic=clinic, error=NEXT_EXPIRED, email=email, next_url=next, status_code=403
        )
    result = await sign_in(
        session, email=email, password=password, second_factor=None, config=config, channel="web"
    )
    if result.status == SignInStatus.FAILED or result.user is None:
        return login_page(
            request,
            clinic=clinic,
            error=GENERIC_FAILURE,
            email=email,
            next_url=next,
            status_code=401,
        )
    verified = result.status == SignInStatus.SIGNED_IN
    token, _ = await sessions.start_web_session(
        session, user=result.user, config=config, mfa_verified=verified
    )
    target = safe_next(next) if verified else f"/login/mfa?next={safe_next(next)}"
    response = redirect(target)
    set_session_cookie(response, config, token)
    return response


@router.get("/login/mfa", response_class=HTMLResponse)
async def second_factor_form(
    request: Request,
    actor: SecondFactorStep,
    next: str = "/",
) -> HTMLResponse:
    return render(request, "identity/login_mfa.html", {"next": safe_next(next), "error": None})


@router.post("/login/mfa", response_class=HTMLResponse)
async def second_factor(
    request: Request,
    actor: SecondFactorStep,
    principal: CurrentPrincipal,
    session: SessionDep,
    config: IdentityConfigDep,
    code: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if principal.web is None:
        raise NotAuthenticated("Please sign in.")
    if not await check_second_factor(session, user=principal.user, code=code, config=config):
        return render(
            request,
            "identity/login_mfa.html",
            {"next": safe_next(next), "error": "That code is not right. Try again."},
            status_code=401,
        )
    await sessions.mark_second_factor_passed(session, web_session=principal.web.session)
    await complete_sign_in(session, user=principal.user, config=config, channel="web")
    return redirect(safe_next(next))


@router.post("/logout")
async def logout(
    request: Request, actor: SecondFactorStep, principal: CurrentPrincipal, session: SessionDep
) -> RedirectResponse:
    if principal.web is not None:
        await sessions.end_web_session(session, web_session=principal.web.session, actor=actor)
    response = redirect("/login")
    clear_session_cookie(response, request)
    flash(request, response, "You are signed out.", "info")
    return response


# --- password recovery, invitations, e-mail verification (public) ---------------------
