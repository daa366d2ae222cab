"""JSON API of the identity domain: sign-in tokens, own account, users, organization."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Query, Request, Response, status
from fastapi.responses import JSONResponse

from clinicdesk.core.errors import ClinicError, problem_response
from clinicdesk.core.http import IfMatch, etag
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.schemas import Accepted
from clinicdesk.identity import schemas
from clinicdesk.identity.auth import (
    AdminSettings,
    AdminUsers,
    CurrentPrincipal,
    IdentityConfigDep,
    MfaSetup,
    OrganizationRead,
    SignedIn,
)
from clinicdesk.identity.errors import InvalidCredentials, SecondFactorRequired
from clinicdesk.identity.models import OneTimePurpose
from clinicdesk.identity.service import mfa, organizations, recovery, sessions, users
from clinicdesk.identity.service.common import get_user
from clinicdesk.identity.service.signin import GENERIC_FAILURE, SignInStatus, sign_in

public = APIRouter(prefix="/api/v1/auth", tags=["authentication"])
router = APIRouter(prefix="/api/v1", tags=["identity"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _problem(request: Request, error: ClinicError) -> JSONResponse:
    return problem_response(request, error, {"WWW-Authenticate": "Bearer"})


@public.post("/token", response_model=schemas.TokenResponse, summary="Sign in (OAuth2 password)")
async def issue_token(
    request: Request,
    session: SessionDep,
    config: IdentityConfigDep,
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    totp: Annotated[str | None, Form(max_length=16)] = None,
) -> schemas.TokenResponse | JSONResponse:
    """The OAuth2 password grant, plus ``totp`` (a 6-digit code or a recovery code) for
    accounts with two-factor authentication."""
    result = await sign_in(
        session,
        email=username,
        password=password,
        second_factor=totp,
        config=config,
        channel="api",
    )
    if result.status == SignInStatus.SECOND_FACTOR_NEEDED:
        return _problem(
            request,
            SecondFactorRequired(
                "This account uses two-factor authentication: send the code as 'totp'."
            ),
        )
    if result.status != SignInStatus.SIGNED_IN or result.user is None:
        # Answered, not raised: the failure's audit entry and throttle count are kept.
        return _problem(request, InvalidCredentials(GENERIC_FAILURE))
    issued = await sessions.issue_api_tokens(session, user=result.user, config=config)
    return schemas.TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@public.post("/refresh", response_model=schemas.TokenResponse, summary="Rotate tokens")
async def refresh_token(
    body: schemas.RefreshRequest, session: SessionDep, config: IdentityConfigDep
) -> schemas.TokenResponse:
    issued = await sessions.refresh_api_tokens(
        session, refresh_token=body.refresh_token, config=config
    )
    return schemas.TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@public.post(
    "/password-reset", status_code=status.HTTP_202_ACCEPTED, summary="E-mail a password reset link"
)
async def password_reset(
    body: schemas.PasswordResetRequest, session: SessionDep, config: IdentityConfigDep
) -> Accepted:
    await recovery.request_password_reset(session, email=body.email, config=config)
    return Accepted(detail="If the address has an account, a reset link is on its way.")


@public.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with a reset link's token",
)
async def password_reset_confirm(body: schemas.PasswordResetConfirm, session: SessionDep) -> None:
    await users.set_password_from_link(
        session,
        token=body.token,
        purpose=OneTimePurpose.PASSWORD_RESET,
        new_password=body.new_password,
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["authentication"],
    summary="Revoke this sign-in's tokens",
)
async def logout(actor: MfaSetup, session: SessionDep) -> None:
    await sessions.revoke_token_family(session, actor=actor)


# --- own account ----------------------------------------------------------------------


@router.get("/me", response_model=schemas.UserRead, summary="My account")
async def read_me(
    response: Response, actor: MfaSetup, principal: CurrentPrincipal
) -> schemas.UserRead:
    response.headers["ETag"] = etag(principal.user.version)
    return schemas.UserRead.model_validate(principal.user)


@router.patch("/me", response_model=schemas.UserRead, summary="Update my profile")
async def update_me(
    body: schemas.ProfileUpdate,
    response: Response,
    actor: SignedIn,
    session: SessionDep,
    if_match: IfMatch,
) -> schemas.UserRead:
    user = await users.update_profile(
        session, actor=actor, full_name=body.full_name, expected_version=if_match
    )
    response.headers["ETag"] = etag(user.version)
    return schemas.UserRead.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password (signs out everywhere)",
)
async def change_my_password(
    body: schemas.PasswordChange, actor: SignedIn, session: SessionDep
) -> None:
    await users.change_password(
        session,
        actor=actor,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.post("/me/mfa", response_model=schemas.MfaEnrolmentRead, summary="Start two-factor set-up")
async def begin_mfa(
    actor: MfaSetup, principal: CurrentPrincipal, session: SessionDep
) -> schemas.MfaEnrolmentRead:
    enrolment = await mfa.begin_enrolment(session, user=principal.user)
    return schemas.MfaEnrolmentRead(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post(
    "/me/mfa/confirm",
    response_model=schemas.RecoveryCodesRead,
    summary="Confirm two-factor set-up with a code; returns recovery codes",
)
async def confirm_mfa(
    body: schemas.MfaCode, actor: MfaSetup, principal: CurrentPrincipal, session: SessionDep
) -> schemas.RecoveryCodesRead:
    codes = await mfa.confirm_enrolment(session, user=principal.user, actor=actor, code=body.code)
    return schemas.RecoveryCodesRead(recovery_codes=codes)


@router.post(
    "/me/email-verification",
    status_code=status.HTTP_202_ACCEPTED,
    summary="E-mail me a verification link",
)
async def request_email_verification(
    actor: SignedIn, session: SessionDep, config: IdentityConfigDep
) -> Accepted:
    await recovery.send_email_verification(session, actor=actor, config=config)
    return Accepted(detail="A verification link is on its way.")


@router.get(
    "/me/sessions", response_model=list[schemas.SessionRead], summary="My signed-in browsers"
)
async def my_sessions(actor: SignedIn, session: SessionDep) -> list[schemas.SessionRead]:
    rows = await sessions.list_own_sessions(session, actor=actor)
    return [schemas.SessionRead.model_validate(row) for row in rows]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End one of my sessions",
)
async def end_my_session(session_id: uuid.UUID, actor: SignedIn, session: SessionDep) -> None:
    await sessions.end_own_session(session, actor=actor, session_id=session_id)


# --- users (admin) --------------------------------------------------------------------


@router.get("/users", response_model=schemas.UserPage, summary="Users of my organization")
async def list_users(
    actor: AdminUsers, session: SessionDep, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> schemas.UserPage:
    rows, next_cursor = await users.list_users(session, cursor=cursor, limit=limit)
    return schemas.UserPage(
        items=[schemas.UserRead.model_validate(u) for u in rows], next_cursor=next_cursor
    )


@router.post(
    "/users",
    response_model=schemas.UserRead,
    status_code=status.HTTP_201_CREATED,
    summary="Invite a staff member by e-mail",
)
async def invite_user(
    body: schemas.UserInvite, actor: AdminUsers, session: SessionDep, config: IdentityConfigDep
) -> schemas.UserRead:
    user = await users.invite_user(
        session,
        actor=actor,
        email=body.email,
        full_name=body.full_name,
        roles=body.roles,
        config=config,
    )
    return schemas.UserRead.model_validate(user)


@router.get("/users/{user_id}", response_model=schemas.UserRead, summary="One user")
async def read_user(
    user_id: uuid.UUID, actor: AdminUsers, session: SessionDep, response: Response
) -> schemas.UserRead:
    user = await get_user(session, user_id)
    response.headers["ETag"] = etag(user.version)
    return schemas.UserRead.model_validate(user)


@router.put(
    "/users/{user_id}/roles",
    response_model=schemas.UserRead,
    summary="Set a user's roles (removing one ends their sessions)",
)
async def set_user_roles(
    user_id: uuid.UUID,
    body: schemas.RolesUpdate,
    actor: AdminUsers,
    session: SessionDep,
    if_match: IfMatch,
) -> schemas.UserRead:
    user = await users.change_roles(
        session,
        actor=actor,
        user_id=user_id,
        roles=body.roles,
        expected_version=if_match,
    )
    return schemas.UserRead.model_validate(user)


@router.post(
    "/users/{user_id}/deactivate",
    response_model=schemas.UserRead,
    summary="Deactivate a user (ends their sessions and tokens)",
)
async def deactivate_user(
    user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> schemas.UserRead:
    user = await users.set_active(session, actor=actor, user_id=user_id, active=False)
    return schemas.UserRead.model_validate(user)


@router.post(
    "/users/{user_id}/reactivate", response_model=schemas.UserRead, summary="Reactivate a user"
)
async def reactivate_user(
    user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> schemas.UserRead:
    user = await users.set_active(session, actor=actor, user_id=user_id, active=True)
    return schemas.UserRead.model_validate(user)


@router.post(
    "/users/{user_id}/reset-mfa",
    response_model=schemas.UserRead,
    summary="Remove a user's authenticator (they enrol again)",
)
async def reset_user_mfa(
    user_id: uuid.UUID, actor: AdminUsers, session: SessionDep
) -> schemas.UserRead:
    user = await users.reset_mfa(session, actor=actor, user_id=user_id)
    return schemas.UserRead.model_validate(user)


# --- organization and locations -------------------------------------------------------


@router.get("/organization", response_model=schemas.OrganizationRead, summary="My organization")
async def read_organization(
    actor: OrganizationRead, session: SessionDep, response: Response
) -> schemas.OrganizationRead:
    organization = await organizations.get_organization(session)
    response.headers["ETag"] = etag(organization.version)
    return schemas.OrganizationRead.model_validate(organization)


@router.patch(
    "/organization",
    response_model=schemas.OrganizationRead,
    summary="Change the organization's settings",
)
async def update_organization(
    body: schemas.OrganizationUpdate,
    actor: AdminSettings,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> schemas.OrganizationRead:
    organization = await organizations.update_organization(
        session, actor=actor, update=body, expected_version=if_match
    )
    response.headers["ETag"] = etag(organization.version)
    return schemas.OrganizationRead.model_validate(organization)


@router.get("/locations", response_model=list[schemas.LocationRead], summary="Locations")
async def list_locations(
    actor: OrganizationRead, session: SessionDep
) -> list[schemas.LocationRead]:
    return [
        schemas.LocationRead.model_validate(x) for x in await organizations.list_locations(session)
    ]


@router.post(
    "/locations",
    response_model=schemas.LocationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a location",
)
async def create_location(
    body: schemas.LocationWrite, actor: AdminSettings, session: SessionDep
) -> schemas.LocationRead:
    location = await organizations.create_location(session, actor=actor, data=body)
    return schemas.LocationRead.model_validate(location)


@router.get("/locations/{location_id}", response_model=schemas.LocationRead, summary="One location")
async def read_location(
    location_id: uuid.UUID, actor: OrganizationRead, session: SessionDep, response: Response
) -> schemas.LocationRead:
    location = await organizations.get_location(session, location_id)
    response.headers["ETag"] = etag(location.version)
    return schemas.LocationRead.model_validate(location)


@router.put(
    "/locations/{location_id}", response_model=schemas.LocationRead, summary="Change a location"
)
async def update_location(
    location_id: uuid.UUID,
    body: schemas.LocationWrite,
    actor: AdminSettings,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> schemas.LocationRead:
    location = await organizations.update_location(
        session,
        actor=actor,
        location_id=location_id,
        data=body,
        expected_version=if_match,
    )
    response.headers["ETag"] = etag(location.version)
    return schemas.LocationRead.model_validate(location)
