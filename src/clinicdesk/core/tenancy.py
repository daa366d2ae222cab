"""Tenant isolation, applied once for every query and every insert.

Every tenant-owned table mixes in ``TenantScoped`` (an ``organization_id`` column). A
session carries its scope in ``session.info``:

* a tenant (``await scope_to_tenant(session, org_id)``): every ORM SELECT, UPDATE and
  DELETE gets ``organization_id = :tenant`` added (SQLAlchemy loader criteria), and every
  new row gets the tenant's id, whatever the caller set;
* the system scope (``await use_system_scope(session)``), for the few places that must
  look across tenants: finding the account behind a login or a session cookie, CLI
  commands, the audit verifier;
* neither: queries of tenant tables match no rows and inserts are refused. Deny by default.

On PostgreSQL the same scope is written into the transaction (``app.organization_id`` /
``app.bypass_rls``) where row-level security policies enforce it again underneath.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, event, false, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

_SCOPE_KEY = "clinicdesk.tenant_scope"


class TenantScopeError(RuntimeError):
    """A bug: tenant data touched without a tenant, or moved between tenants."""


@dataclass(frozen=True, slots=True)
class TenantScope:
    organization_id: uuid.UUID | None
    system: bool = False


NO_SCOPE = TenantScope(organization_id=None)
SYSTEM_SCOPE = TenantScope(organization_id=None, system=True)


class TenantScoped:
    """Mixin for tenant-owned tables."""

    @declared_attr
    def organization_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(
            ForeignKey("organizations.id", ondelete="RESTRICT"), index=True, nullable=False
        )


def current_scope(session: Session | AsyncSession) -> TenantScope:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    scope: TenantScope = sync.info.get(_SCOPE_KEY, NO_SCOPE)
    return scope


def current_tenant(session: Session | AsyncSession) -> uuid.UUID:
    """The tenant the session is scoped to; a ``TenantScopeError`` when it has none."""
    scope = current_scope(session)
    if scope.organization_id is None:
        raise TenantScopeError("this session is not scoped to an organization")
    return scope.organization_id


async def scope_to_tenant(session: AsyncSession, organization_id: uuid.UUID) -> None:
    await _set_scope(session, TenantScope(organization_id=organization_id))


async def use_system_scope(session: AsyncSession) -> None:
    await _set_scope(session, SYSTEM_SCOPE)


async def clear_scope(session: AsyncSession) -> None:
    """Back to no scope (deny by default), as a fresh session starts."""
    await _set_scope(session, NO_SCOPE)


async def _set_scope(session: AsyncSession, scope: TenantScope) -> None:
    session.sync_session.info[_SCOPE_KEY] = scope
    if session.in_transaction():
        # The transaction already started: move its PostgreSQL settings along too.
        connection = await session.connection()
        await connection.run_sync(_apply_to_connection, scope)


def _apply_to_connection(connection: Connection, scope: TenantScope) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text(
            "SELECT set_config('app.organization_id', :org, true),"
            " set_config('app.bypass_rls', :bypass, true)"
        ),
        {
            "org": str(scope.organization_id) if scope.organization_id else "",
            "bypass": "on" if scope.system else "off",
        },
    )


@event.listens_for(Session, "after_begin")
def _scope_new_transaction(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    _apply_to_connection(connection, session.info.get(_SCOPE_KEY, NO_SCOPE))


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent query already carries the criteria to its loaders
    scope: TenantScope = state.session.info.get(_SCOPE_KEY, NO_SCOPE)
    if scope.system:
        return
    tenant = scope.organization_id
    if tenant is None:
        criteria: Any = with_loader_criteria(
            TenantScoped, lambda _cls: false(), include_aliases=True
        )
    else:
        criteria = with_loader_criteria(
            TenantScoped, lambda cls: cls.organization_id == tenant, include_aliases=True
        )
    state.statement = state.statement.options(criteria)


@event.listens_for(Session, "before_flush")
def _stamp_and_guard(session: Session, _context: object, _instances: object) -> None:
    scope: TenantScope = session.info.get(_SCOPE_KEY, NO_SCOPE)
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if scope.organization_id is not None:
            # A client-sent organization_id never decides where a row lands.
            obj.organization_id = scope.organization_id
        elif not scope.system:
            raise TenantScopeError(
                f"refusing to insert {type(obj).__name__} without a tenant scope"
            )
        elif getattr(obj, "organization_id", None) is None and not getattr(
            obj, "__tenant_optional__", False
        ):
            raise TenantScopeError(f"{type(obj).__name__} needs an organization_id")
    for obj in session.dirty:
        if isinstance(obj, TenantScoped):
            moved = bool(inspect(obj).attrs.organization_id.history.deleted)
            if moved and not scope.system:
                raise TenantScopeError(f"refusing to move {type(obj).__name__} between tenants")
