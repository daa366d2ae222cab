"""The signed-in user's own account: name, e-mail verification, password, two-factor
authentication and sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clinicdesk.core.errors import ClinicError, InvalidField
from clinicdesk.core.http import FormVersion
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep, writes_when_read
from clinicdesk.identity.auth import (
    CurrentPrincipal,
    IdentityConfigDep,
    MfaSetup,
    SignedIn,
)
from clinicdesk.identity.service import mfa, recovery, sessions, users
from clinicdesk.identity.views.common import Text
from clinicdesk.identity.web import (
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, actor: MfaSetup, principal: CurrentPrincipal) -> HTMLResponse:
    return render(request, "identity/account.html", {"user": principal.user, "error": None})


@router.post("/account", response_class=HTMLResponse)
async def update_account(
    request: Request,
    actor: SignedIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    version: FormVersion,
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
            await users.update_profile(
                session, actor=actor, full_name=full_name.strip(), expected_version=version
            )
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
@writes_when_read  # shows a new secret to scan, kept as the pending enrolment
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
