"""Sign-in, second factor, sign-out, password recovery, invitations and own account."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import (
    CurrentPrincipal,
    IdentityConfigDep,
    MfaSetup,
    SecondFactorStep,
    SignedIn,
)
from clinicdesk.identity.errors import CsrfRejected, NotAuthenticated
from clinicdesk.identity.models import OneTimePurpose
from clinicdesk.identity.service import mfa, recovery, sessions, users
from clinicdesk.identity.service.signin import (
    GENERIC_FAILURE,
    SignInStatus,
    check_second_factor,
    complete_sign_in,
    sign_in,
)
from clinicdesk.identity.web import (
    check_public_csrf,
    clear_session_cookie,
    render_public_form,
    safe_next,
    set_session_cookie,
)

public = APIRouter(include_in_schema=False)
TEMPLATES_DIR = Path(__file__).parent / "templates"

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
NEXT_EXPIRED = "The form expired. Please try again."


def login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    next_url: str = "/",
    status_code: int = 200,
) -> HTMLResponse:
    return render_public_form(
        request,
        "identity/login.html",
        {"error": error, "email": email, "next": safe_next(next_url)},
        status_code=status_code,
    )


@public.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return login_page(request, next_url=next)


@public.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    config: IdentityConfigDep,
    email: Annotated[str, Form(max_length=254)],
    password: Text,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not await check_public_csrf(request):
        return login_page(request, error=NEXT_EXPIRED, email=email, next_url=next, status_code=403)
    result = await sign_in(
        session, email=email, password=password, second_factor=None, config=config, channel="web"
    )
    if result.status == SignInStatus.FAILED or result.user is None:
        return login_page(
            request, error=GENERIC_FAILURE, email=email, next_url=next, status_code=401
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


@public.get("/password/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request) -> HTMLResponse:
    return render_public_form(request, "identity/password_forgot.html", {"sent": False})


@public.post("/password/forgot", response_class=HTMLResponse)
async def forgot(
    request: Request,
    session: SessionDep,
    config: IdentityConfigDep,
    email: Annotated[str, Form(max_length=254)],
) -> HTMLResponse:
    if not await check_public_csrf(request):
        raise CsrfRejected(NEXT_EXPIRED)
    await recovery.request_password_reset(session, email=email, config=config)
    return render_public_form(request, "identity/password_forgot.html", {"sent": True})


async def _set_password_page(
    request: Request,
    session: SessionDep,
    *,
    token: str,
    password: str,
    confirm: str,
    purpose: OneTimePurpose,
    template: str,
    done_message: str,
) -> Response:
    if not await check_public_csrf(request):
        raise CsrfRejected(NEXT_EXPIRED)
    context = {"token": token, "error": None}
    if password != confirm:
        context["error"] = "The two passwords are not the same."
        return render_public_form(request, template, context, status_code=400)
    try:
        async with all_or_nothing(session):
            await users.set_password_from_link(
                session, token=token, purpose=purpose, new_password=password
            )
    except ClinicError as error:
        context["error"] = error.detail
        return render_public_form(request, template, context, status_code=error.status_code)
    response = redirect("/login")
    flash(request, response, done_message)
    return response


@public.get("/password/reset", response_class=HTMLResponse)
async def reset_form(request: Request, token: str = "") -> HTMLResponse:
    return render_public_form(
        request, "identity/password_reset.html", {"token": token, "error": None}
    )


@public.post("/password/reset", response_class=HTMLResponse)
async def reset(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    password: Text,
    confirm: Text,
) -> Response:
    return await _set_password_page(
        request,
        session,
        token=token,
        password=password,
        confirm=confirm,
        purpose=OneTimePurpose.PASSWORD_RESET,
        template="identity/password_reset.html",
        done_message="Your password is changed. Sign in with it now.",
    )


@public.get("/invitations/accept", response_class=HTMLResponse)
async def invitation_form(request: Request, token: str = "") -> HTMLResponse:
    return render_public_form(request, "identity/invitation.html", {"token": token, "error": None})


@public.post("/invitations/accept", response_class=HTMLResponse)
async def accept_invitation(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    password: Text,
    confirm: Text,
) -> Response:
    return await _set_password_page(
        request,
        session,
        token=token,
        password=password,
        confirm=confirm,
        purpose=OneTimePurpose.INVITATION,
        template="identity/invitation.html",
        done_message="Welcome! Your password is set. Sign in to start.",
    )


@public.get("/verify-email", response_class=HTMLResponse)
async def verify_email(request: Request, session: SessionDep, token: str = "") -> HTMLResponse:
    try:
        async with all_or_nothing(session):
            await recovery.verify_email(session, token=token)
    except ClinicError as error:
        return render(
            request,
            "identity/message.html",
            {"title": "Link not valid", "message": error.detail},
            status_code=400,
        )
    return render(
        request,
        "identity/message.html",
        {
            "title": "E-mail address confirmed",
            "message": "Thank you: your e-mail address is confirmed.",
        },
    )


# --- own account ----------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, actor: MfaSetup, principal: CurrentPrincipal) -> HTMLResponse:
    return render(request, "identity/account.html", {"user": principal.user, "error": None})


@router.post("/account", response_class=HTMLResponse)
async def update_account(
    request: Request,
    actor: SignedIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    full_name: Annotated[str, Form(max_length=200)],
) -> Response:
    if not full_name.strip():
        return render(
            request,
            "identity/account.html",
            {"user": principal.user, "error": "Enter your name."},
            status_code=400,
        )
    try:
        async with all_or_nothing(session):
            await users.update_profile(session, actor=actor, full_name=full_name.strip())
    except InvalidField as error:
        return render(
            request,
            "identity/account.html",
            {"user": principal.user, "error": error.message},
            status_code=error.status_code,
        )
    response = redirect("/account")
    flash(request, response, "Your profile is saved.")
    return response


@router.post("/account/verify-email")
async def send_verification(
    request: Request, actor: SignedIn, session: SessionDep, config: IdentityConfigDep
) -> RedirectResponse:
    response = redirect("/account")
    try:
        async with all_or_nothing(session):
            await recovery.send_email_verification(session, actor=actor, config=config)
    except ClinicError as error:
        flash(request, response, error.detail, "warning")
        return response
    flash(request, response, "We sent you a link; open it to confirm your address.", "info")
    return response


@router.get("/account/password", response_class=HTMLResponse)
async def password_form(request: Request, actor: SignedIn) -> HTMLResponse:
    return render(request, "identity/password_change.html", {"error": None})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    actor: SignedIn,
    session: SessionDep,
    config: IdentityConfigDep,
    current_password: Text,
    new_password: Text,
    confirm: Text,
) -> Response:
    if new_password != confirm:
        return render(
            request,
            "identity/password_change.html",
            {"error": "The two new passwords are not the same."},
            status_code=400,
        )
    try:
        async with all_or_nothing(session):
            user = await users.change_password(
                session, actor=actor, current_password=current_password, new_password=new_password
            )
    except ClinicError as error:
        return render(
            request,
            "identity/password_change.html",
            {"error": error.detail},
            status_code=error.status_code,
        )
    # Every session ended with the change; this browser gets a fresh one.
    token, _ = await sessions.start_web_session(
        session, user=user, config=config, mfa_verified=True
    )
    response = redirect("/account")
    set_session_cookie(response, config, token)
    flash(request, response, "Your password is changed. Other devices were signed out.")
    return response


@router.get("/account/mfa", response_class=HTMLResponse)
async def mfa_page(
    request: Request, actor: MfaSetup, principal: CurrentPrincipal, session: SessionDep
) -> HTMLResponse:
    user = principal.user
    if user.mfa_enabled:
        remaining = await mfa.remaining_recovery_codes(session, user=user)
        return render(
            request,
            "identity/mfa.html",
            {"enabled": True, "remaining": remaining, "enrolment": None, "error": None},
        )
    enrolment = await mfa.begin_enrolment(session, user=user)
    return render(
        request,
        "identity/mfa.html",
        {
            "enabled": False,
            "enrolment": enrolment,
            "error": None,
            "required": principal.must_enrol_mfa,
        },
    )


@router.post("/account/mfa", response_class=HTMLResponse)
async def confirm_mfa(
    request: Request,
    actor: MfaSetup,
    principal: CurrentPrincipal,
    session: SessionDep,
    code: Annotated[str, Form(max_length=16)],
) -> HTMLResponse:
    try:
        async with all_or_nothing(session):
            codes = await mfa.confirm_enrolment(
                session, user=principal.user, actor=actor, code=code
            )
    except ClinicError as error:
        enrolment = await mfa.begin_enrolment(session, user=principal.user)
        return render(
            request,
            "identity/mfa.html",
            {
                "enabled": False,
                "enrolment": enrolment,
                "error": error.detail,
                "required": principal.must_enrol_mfa,
            },
            status_code=400,
        )
    if principal.web is not None:
        await sessions.mark_second_factor_passed(session, web_session=principal.web.session)
    return render(request, "identity/recovery_codes.html", {"codes": codes})


@router.get("/account/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, actor: SignedIn, session: SessionDep) -> HTMLResponse:
    rows = await sessions.list_own_sessions(session, actor=actor)
    return render(request, "identity/sessions.html", {"sessions": rows})


@router.post("/account/sessions/{session_id}/end")
async def end_session(
    request: Request, session_id: uuid.UUID, actor: SignedIn, session: SessionDep
) -> RedirectResponse:
    response = redirect("/account/sessions" if session_id != actor.session_id else "/login")
    await sessions.end_own_session(session, actor=actor, session_id=session_id)
    flash(request, response, "That session is ended.", "info")
    return response
