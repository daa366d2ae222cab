"""Who is calling, and may they: the dependencies every protected route declares.

* The JSON API (``/api/...``) accepts only bearer access tokens; the web UI only the
  session cookie, with CSRF protection on every state-changing request.
* A route states what it needs with a typed alias: ``actor: SignedIn`` (any signed-in
  user, e.g. their own profile) or ``actor: AdminUsers`` (a named permission). The route
  test walks the app and fails on a route that declares none.
* An admin whose organization requires MFA and who has none is sent to enrol before
  anything else; a web session that still owes its second factor reaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.audit.public import Outcome
from clinicdesk.core.access import Requirement, require
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.csrf import SAFE_METHODS, CsrfProtection
from clinicdesk.core.errors import Forbidden
from clinicdesk.core.permissions import Permission
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.errors import (
    CsrfRejected,
    MfaEnrolmentRequired,
    NotAuthenticated,
    SecondFactorRequired,
)
from clinicdesk.identity.models import Organization, User
from clinicdesk.identity.service import sessions
from clinicdesk.identity.service.mfa import mfa_required

_STATE_KEY = "principal"


@dataclass(frozen=True, slots=True)
class Me:
    """What pages show about the signed-in user: plain values, read once, so even an
    error page rendered after a rollback can show them."""

    name: str
    email: str
    organization: str
    time_zone: str
    country: str = "US"
    date_format: str = "MM/DD/YYYY"


@dataclass(frozen=True, slots=True)
class Principal:
    actor: Actor
    user: User
    organization: Organization
    web: sessions.ResolvedSession | None
    me: Me

    @property
    def must_enrol_mfa(self) -> bool:
        return mfa_required(self.user, self.organization) and not self.user.mfa_enabled


def identity_config(request: Request) -> IdentityConfig:
    config: IdentityConfig = request.app.state.identity
    return config


def csrf_protection(request: Request) -> CsrfProtection:
    protection: CsrfProtection = request.app.state.csrf
    return protection


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _authenticate(request: Request, session: AsyncSession) -> Principal:
    config = identity_config(request)
    web: sessions.ResolvedSession | None = None
    if is_api(request):
        token = bearer_token(request)
        if token is None:
            raise NotAuthenticated("Send an access token: 'Authorization: Bearer <token>'.")
        resolved: (
            sessions.ResolvedToken | sessions.ResolvedSession
        ) = await sessions.resolve_access_token(session, token=token)
    else:
        cookie = request.cookies.get(config.session_cookie)
        if not cookie:
            raise NotAuthenticated("Please sign in.")
        web = resolved = await sessions.resolve_web_session(session, token=cookie, config=config)
        if request.method not in SAFE_METHODS and not await csrf_protection(
            request
        ).valid_for_session(request, web.token):
            raise CsrfRejected(
                "The page was open too long or came from elsewhere. Reload it and try again."
            )
    actor, user, organization = resolved.actor, resolved.user, resolved.organization
    if not organization.is_active:
        raise NotAuthenticated("Your account is no longer available.")
    me = Me(
        name=user.full_name,
        email=user.email,
        organization=organization.name,
        time_zone=organization.time_zone,
        country=organization.country,
        date_format=organization.date_format,
    )
    return Principal(actor=actor, user=user, organization=organization, web=web, me=me)


async def authenticate(request: Request, session: SessionDep) -> Principal:
    """The caller, resolved once per request; 401 when there is none."""
    cached = getattr(request.state, _STATE_KEY, None)
    if isinstance(cached, Principal):
        return cached
    principal = await _authenticate(request, session)
    setattr(request.state, _STATE_KEY, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class IdentityGate:
    """Identity's answer to core's ``Gate``: resolves the caller once per request from
    the token or the session cookie, then holds back a session that owes its second
    factor or an MFA enrolment (unless the requirement is one of those steps)."""

    async def admit(
        self, request: Request, session: AsyncSession, requirement: Requirement
    ) -> Actor:
        principal = await authenticate(request, session)
        if (
            principal.web is not None
            and principal.web.awaiting_second_factor
            and not requirement.allow_pending_second_factor
        ):
            raise SecondFactorRequired("Enter the code from your authenticator app to continue.")
        if principal.must_enrol_mfa and not requirement.allow_without_mfa_enrolment:
            raise MfaEnrolmentRequired(
                "Your organization requires two-factor authentication for your role. "
                "Set it up under Account → Two-factor authentication."
            )
        # Past every sign-in step: what a page loads by itself (the header's alert bell)
        # is for such sessions only. Noted now, while the records are fresh: the page
        # may be rendered after a rollback, when they can no longer be read.
        request.state.admitted = not (
            (principal.web is not None and principal.web.awaiting_second_factor)
            or principal.must_enrol_mfa
        )
        return principal.actor

    def refused(
        self, request: Request, session: AsyncSession, actor: Actor, permission: Permission
    ) -> None:
        route = request.scope.get("route")
        audit.record_if_rolled_back(
            session,
            action="auth.permission_denied",
            actor=actor,
            outcome=Outcome.DENIED,
            details={"permission": permission.value, "route": getattr(route, "path", None)},
        )


class RequireSignedIn(Requirement):
    pass


class RequireMfaSetup(Requirement):
    """Signed in, possibly still owing MFA enrolment (the enrolment pages themselves)."""

    allow_without_mfa_enrolment = True
    description = "signed in (MFA set-up allowed)"


class RequireSecondFactorStep(Requirement):
    """A web session that has passed the password and now owes its second factor."""

    allow_pending_second_factor = True
    allow_without_mfa_enrolment = True
    description = "password accepted, second factor pending"


class RequirePatientPortal(Requirement):
    """A patient signed in to the portal: reaches only their own record, which the
    routes take from the actor, never from the URL."""

    description = "patient portal account"

    def check(self, actor: Actor, session: AsyncSession, request: Request) -> None:
        if actor.kind == ActorKind.PATIENT and actor.patient_id is not None:
            return
        raise Forbidden("This page is for patients signed in to the portal.")


SignedIn = Annotated[Actor, Depends(RequireSignedIn())]
MfaSetup = Annotated[Actor, Depends(RequireMfaSetup())]
SecondFactorStep = Annotated[Actor, Depends(RequireSecondFactorStep())]
AdminUsers = Annotated[Actor, Depends(require(Permission.ADMIN_USERS))]
AdminSettings = Annotated[Actor, Depends(require(Permission.ADMIN_SETTINGS))]
OrganizationRead = Annotated[Actor, Depends(require(Permission.ORGANIZATION_READ))]
PatientPortal = Annotated[Actor, Depends(RequirePatientPortal())]
IdentityConfigDep = Annotated[IdentityConfig, Depends(identity_config)]
