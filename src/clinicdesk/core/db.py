"""Engines, sessions and the unit of work.

Rules (STYLE.md, convention 1 and 2):

* One request, one transaction. Whoever opens a session scope commits it (the request
  dependency, a CLI command, a background job); services only ``flush()``.
* Side effects wait for the commit. ``on_commit(session, hook)`` queues a hook; it runs
  after the commit succeeds and is dropped if the transaction (or the savepoint it was
  queued in) rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from clinicdesk.core.dbfaults import STALE_MESSAGE, FaultLog, fault_kind
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.sqlite_driver import bundled_aiosqlite_dbapi, sqlite_version

log = structlog.get_logger(__name__)

DatabaseKind = Literal["sqlite", "postgresql"]
AfterCommitHook = Callable[[], Awaitable[None] | None]

# Execution option: open the SQLite transaction with a plain (deferred) BEGIN instead of
# BEGIN IMMEDIATE, for work that certainly only reads (exports, reports).
SQLITE_BEGIN_DEFERRED = "clinicdesk_sqlite_begin_deferred"

_PENDING_HOOKS = "clinicdesk.pending_after_commit"
_READY_HOOKS = "clinicdesk.ready_after_commit"
_ROLLBACK_HOOKS = "clinicdesk.after_rollback"


@dataclass(slots=True)
class Database:
    """An engine, its session factory and what kind of database sits behind it."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    kind: DatabaseKind
    faults: FaultLog = field(default_factory=FaultLog)

    @property
    def sqlite_version(self) -> str | None:
        return sqlite_version() if self.kind == "sqlite" else None

    async def ping(self, limit_seconds: float) -> None:
        """Raise unless the database answers ``SELECT 1`` within ``limit_seconds``."""
        reader = self.engine.execution_options(**{SQLITE_BEGIN_DEFERRED: True})
        async with asyncio.timeout(limit_seconds), reader.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def server_version(self) -> str:
        async with self.engine.connect() as conn:
            if self.kind == "sqlite":
                return str((await conn.execute(text("SELECT sqlite_version()"))).scalar_one())
            return str((await conn.execute(text("SHOW server_version"))).scalar_one())

    async def dispose(self) -> None:
        await self.engine.dispose()


def database_kind(url: str) -> DatabaseKind:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise ValueError(f"unsupported database backend {backend!r}")


def create_database(
    url: str,
    *,
    pool_size: int = 10,
    sqlite_busy_timeout_ms: int = 5000,
    echo: bool = False,
) -> Database:
    """Build the engine for ``url`` with ClinicDesk's connection rules applied."""
    kind = database_kind(url)
    if kind == "sqlite":
        engine = create_async_engine(
            url,
            module=bundled_aiosqlite_dbapi(),
            echo=echo,
            # An error's message must not carry the statement's values: they are patient
            # data, and errors are logged.
            hide_parameters=True,
            pool_size=pool_size,
            connect_args={"timeout": sqlite_busy_timeout_ms / 1000},
        )
        _configure_sqlite(engine, busy_timeout_ms=sqlite_busy_timeout_ms)
    else:
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            # asyncpg prepares every statement, and after five runs PostgreSQL may switch
            # to a generic plan that ignores the values: for a prefix search that plan
            # joins whole tables (50 ms instead of 2). Plan with the actual values.
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        )
    sessionmaker = async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=ClinicSession
    )
    database = Database(engine=engine, sessionmaker=sessionmaker, kind=kind)
    _remember_faults(engine, database.faults)
    return database


class ClinicSession(Session):
    """The ORM session every unit of work uses.

    A version mismatch the database finds (the UPDATE's ``WHERE version = :read`` matched
    no row: another writer committed after this one read) is the same error as one
    ``check_version`` finds before writing, so callers handle one ``PreconditionFailed``
    (a form shows what changed, the API answers 412). It is translated here, at the flush
    every write, autoflush and commit goes through.
    """

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        try:
            super().flush(objects)
        except StaleDataError as error:
            raise PreconditionFailed(STALE_MESSAGE) from error


def _remember_faults(engine: AsyncEngine, faults: FaultLog) -> None:
    """Note every fault a ``SELECT 1`` cannot see (a full disk), whoever met it, for
    readiness. Connection-level: requests, jobs and CLI commands all pass here."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        kind = fault_kind(context.original_exception)
        if kind is not None:
            faults.record(kind)


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, busy timeout, durable commits, and explicit BEGIN IMMEDIATE.

    pysqlite's own transaction handling starts transactions lazily and breaks SAVEPOINT;
    SQLAlchemy's documented remedy is to switch it off and emit BEGIN ourselves.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk when it returns, even after a power cut.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # SQLite's own advice for long-lived connections: refresh the planner's
            # statistics where they are missing or stale, bounded in cost. Without them
            # a name search reads every index row of the organization (~100 ms at
            # 100,000 patients instead of ~5).
            # It writes when it analyses: skipped at once, never fatal, while another
            # connection holds the write lock (a later new connection will do it).
            cursor.execute("PRAGMA analysis_limit=400")
            cursor.execute("PRAGMA busy_timeout=0")
            with contextlib.suppress(Exception):
                cursor.execute("PRAGMA optimize=0x10002")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE by default: a request that reads and then writes (an audit entry, a
        # booking after its overlap check) holds the write lock from its first statement.
        # A deferred transaction would fail with SQLITE_BUSY when another writer
        # committed after its first read; IMMEDIATE waits (busy timeout) instead.
        deferred = conn.get_execution_options().get(SQLITE_BEGIN_DEFERRED, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


# --- after-commit hooks ------------------------------------------------------------------


def on_commit(session: AsyncSession, hook: AfterCommitHook) -> None:
    """Run ``hook`` once the current transaction commits; forget it if it rolls back."""
    sync_session = session.sync_session
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    if transaction is None:
        transaction = sync_session.begin()
    sync_session.info.setdefault(_PENDING_HOOKS, []).append((transaction, hook))


def on_rollback(session: AsyncSession, hook: AfterCommitHook) -> None:
    """Run ``hook`` if the unit of work fails and rolls back (for example to record a
    refused attempt in the audit trail, in a transaction of its own)."""
    session.sync_session.info.setdefault(_ROLLBACK_HOOKS, []).append(hook)


def _descends_from(transaction: SessionTransaction, ancestor: SessionTransaction) -> bool:
    current: SessionTransaction | None = transaction
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


@event.listens_for(Session, "after_commit")
def _hooks_ready(session: Session) -> None:
    pending = session.info.pop(_PENDING_HOOKS, [])
    session.info.setdefault(_READY_HOOKS, []).extend(hook for _tx, hook in pending)


@event.listens_for(Session, "after_soft_rollback")
def _hooks_dropped(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING_HOOKS)
    if pending:
        session.info[_PENDING_HOOKS] = [
            (tx, hook) for tx, hook in pending if not _descends_from(tx, previous_transaction)
        ]


async def run_after_commit(session: AsyncSession) -> None:
    """Run the hooks of committed transactions. A failing hook is logged, never raised:
    the data is already committed, and the caller must not be told otherwise."""
    session.sync_session.info.pop(_ROLLBACK_HOOKS, None)
    await _run_hooks(session.sync_session.info.pop(_READY_HOOKS, []))


async def run_after_rollback(session: AsyncSession) -> None:
    session.sync_session.info.pop(_PENDING_HOOKS, None)
    session.sync_session.info.pop(_READY_HOOKS, None)
    await _run_hooks(session.sync_session.info.pop(_ROLLBACK_HOOKS, []))


async def _run_hooks(hooks: list[AfterCommitHook]) -> None:
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("unit_of_work.hook_failed", hook=getattr(hook, "__qualname__", "?"))


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit ``session`` when the block succeeds, roll it back when it raises, and run the
    after-commit hooks once the commit is done."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        await run_after_rollback(session)
        raise
    await session.commit()
    await run_after_commit(session)


@asynccontextmanager
async def independent_session(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A unit of work of its own on the same database as ``session`` (used by rollback
    hooks, which must write although the request's transaction failed)."""
    maker = async_sessionmaker(
        session.bind, expire_on_commit=False, sync_session_class=ClinicSession
    )
    async with maker() as independent, unit_of_work(independent):
        yield independent


@asynccontextmanager
async def session_scope(db: Database) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request (CLI, jobs)."""
    async with db.sessionmaker() as session, unit_of_work(session):
        yield session
