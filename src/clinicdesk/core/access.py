"""What a route needs of its caller: deny by default, declared on every route.

A route declares a ``Requirement`` as a FastAPI dependency: ``require(Permission.X)`` for a
named permission, or one of identity's (signed in, portal patient, second-factor step).
The route test walks the app and fails on a route that declares none.

Core states the rule; who the caller is comes from the ``Gate`` that identity installs
when the app is built (sessions, tokens, CSRF and MFA are identity's). So every domain,
the audit trail included, guards its own routes without importing identity.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import Forbidden
from clinicdesk.core.permissions import Permission
from clinicdesk.core.runtime import SessionDep


class Gate(Protocol):
    async def admit(
        self, request: Request, session: AsyncSession, requirement: Requirement
    ) -> Actor:
        """The caller, if they may pass ``requirement``'s sign-in stage (401/403 if not)."""
        ...

    def refused(
        self, request: Request, session: AsyncSession, actor: Actor, permission: Permission
    ) -> None:
        """Note a refused permission (identity records it in the audit trail)."""
        ...


def install_gate(app: FastAPI, gate: Gate) -> None:
    app.state.gate = gate


def _gate(request: Request) -> Gate:
    gate: Gate | None = getattr(request.app.state, "gate", None)
    if gate is None:  # a wiring mistake, never a user's: fail closed
        raise RuntimeError("No gate installed: create_app() installs identity's.")
    return gate


class Requirement:
    """What a route needs. Instances are FastAPI dependencies; the route test finds them."""

    allow_pending_second_factor = False
    allow_without_mfa_enrolment = False
    description = "signed in"

    async def __call__(self, request: Request, session: SessionDep) -> Actor:
        actor = await _gate(request).admit(request, session, self)
        self.check(actor, session, request)
        return actor

    def check(self, actor: Actor, session: AsyncSession, request: Request) -> None:
        """Any signed-in user passes."""


class RequirePermission(Requirement):
    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.description = permission.value

    def check(self, actor: Actor, session: AsyncSession, request: Request) -> None:
        if actor.can(self.permission):
            return
        _gate(request).refused(request, session, actor, self.permission)
        raise Forbidden(
            "Your role does not allow this. Ask an administrator if you need access.",
            permission=self.permission.value,
        )


def require(permission: Permission) -> RequirePermission:
    return RequirePermission(permission)
