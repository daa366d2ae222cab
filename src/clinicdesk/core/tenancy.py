"""Tenant isolation, applied once for every query and every insert.

Every tenant-owned table mixes in ``TenantScoped`` (an ``organization_id`` column). A
session carries its scope in ``session.info``:

* a tenant (``await scope_to_tenant(session, org_id)``): every ORM SELECT, UPDATE and
  DELETE gets ``organization_id = :tenant`` added (SQLAlchemy loader criteria), and every
  new row gets the tenant's id, whatever the caller set;
* the system scope (``await use_system_scope(session)``): no tenant filter in the ORM,
  for the installation's own rows (audit entries and jobs of no organization) and for
  operator commands;
* neither: queries of tenant tables match no rows and inserts are refused. Deny by default.

On PostgreSQL the tenant is written into the transaction (``app.organization_id``),
where row-level security enforces it again underneath. The system scope there is *not*
a bypass: the application role still sees only the installation's own rows, and only
the tables' owner (operator commands connect as it) sees every organization. A request
that must find its tenant from what it was given (a sign-in e-mail, a cookie, a link)
calls ``scope_by_lookup``, which asks the database one narrow question
(``clinicdesk.core.rls.LOOKUPS``) and scopes the session to the answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, event, false, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    InstrumentedAttribute,
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


async def scope_by_lookup(
    session: AsyncSession, column: InstrumentedAttribute[Any], key: str
) -> uuid.UUID | None:
    """Scope the session to the organization of the row whose ``column`` equals ``key``
    (a secret's hash, a sign-in e-mail), or to the system scope when there is none; the
    caller then reads that row as usual and finds it, or finds nothing.

    On PostgreSQL the application role cannot see across organizations, so the database
    answers through ``clinicdesk_tenant_of``, which tells the organization id and nothing
    else, and only for the columns listed in ``clinicdesk.core.rls.LOOKUPS``."""
    table_column = column.property.columns[0]
    cache_key = (table_column.table.name, table_column.name, key)
    cached = _SECRET_OWNERS.get(cache_key)
    if cached is not None:
        await scope_to_tenant(session, cached)
        return cached
    if session.get_bind().dialect.name == "postgresql":
        found = await session.scalar(
            text("SELECT clinicdesk_tenant_of(:table, :column, :key)"),
            {"table": table_column.table.name, "column": table_column.name, "key": key},
        )
    else:
        await use_system_scope(session)
        found = await session.scalar(
            select(table_column.table.c.organization_id).where(table_column == key).limit(1)
        )
    organization_id = uuid.UUID(str(found)) if found is not None else None
    if organization_id is None:
        await use_system_scope(session)
    else:
        if (cache_key[0], cache_key[1]) in CACHEABLE_LOOKUPS:
            _SECRET_OWNERS.put(cache_key, organization_id)
        await scope_to_tenant(session, organization_id)
    return organization_id


CACHEABLE_LOOKUPS = frozenset({("web_sessions", "token_hash"), ("api_tokens", "token_hash")})
"""Lookups whose answer never changes: a random secret's hash names one row for good, and
a row never moves to another organization. Every request presents one of these, so the
answer is kept (a look-up fewer per request). Only the organization is kept: whether
the session or token is still valid is read from its row on every request."""


class _BoundedCache:
    """A dict that forgets its oldest entries past ``size`` (insertion order)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[str, str, str], uuid.UUID] = {}

    def get(self, key: tuple[str, str, str]) -> uuid.UUID | None:
        return self._entries.get(key)

    def put(self, key: tuple[str, str, str], value: uuid.UUID) -> None:
        self._entries[key] = value
        while len(self._entries) > self._size:
            del self._entries[next(iter(self._entries))]


_SECRET_OWNERS = _BoundedCache(50_000)


async def organization_of(
    session: AsyncSession, column: InstrumentedAttribute[Any], key: str
) -> uuid.UUID | None:
    """Which organization has the row whose ``column`` equals ``key`` (None: no row),
    through the same narrow lookup as ``scope_by_lookup``; the session's scope (tenant,
    system or none) is left as it was."""
    before = current_scope(session)
    try:
        return await scope_by_lookup(session, column, key)
    finally:
        await _set_scope(session, before)


async def clear_scope(session: AsyncSession) -> None:
    """Back to no scope (deny by default), as a fresh session starts."""
    await _set_scope(session, NO_SCOPE)


async def _set_scope(session: AsyncSession, scope: TenantScope) -> None:
    if session.sync_session.info.get(_SCOPE_KEY, NO_SCOPE) == scope:
        return  # already so, on the connection too (a round trip saved per request)
    session.sync_session.info[_SCOPE_KEY] = scope
    if session.in_transaction():
        # The transaction already started: move its PostgreSQL settings along too.
        connection = await session.connection()
        await connection.run_sync(_apply_to_connection, scope)


def _apply_to_connection(connection: Connection, scope: TenantScope) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text("SELECT set_config('app.organization_id', :org, true)"),
        {"org": str(scope.organization_id) if scope.organization_id else ""},
    )


@event.listens_for(Session, "after_begin")
def _scope_new_transaction(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    if _transaction.nested:
        # A savepoint inherits the transaction's setting (and a rollback to it restores
        # the setting as it was when the savepoint began): nothing to send.
        return
    scope = session.info.get(_SCOPE_KEY, NO_SCOPE)
    # The setting is transaction-local (set_config's is_local), so a new transaction
    # starts without it: no scope needs no statement (one round trip fewer per request).
    if scope != NO_SCOPE:
        _apply_to_connection(connection, scope)


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
