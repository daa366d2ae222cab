"""Password recovery, accepting an invitation and confirming an e-mail address: the
pages reached from a link in a mail, before anyone is signed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep, writes_when_read
from clinicdesk.identity.auth import (
    IdentityConfigDep,
)
from clinicdesk.identity.errors import CsrfRejected
from clinicdesk.identity.models import OneTimePurpose
from clinicdesk.identity.service import recovery, users
from clinicdesk.identity.views.common import NEXT_EXPIRED, Text
from clinicdesk.identity.web import (
    check_public_csrf,
    render_public_form,
)

public = APIRouter(include_in_schema=False)


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
@writes_when_read  # the link in the mail: opening it confirms the address
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
