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
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from sqlalchemy import Executable, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.util import await_only

from clinicdesk.core.dbfaults import STALE_MESSAGE, FaultLog, fault_kind
from clinicdesk.core.errors import PreconditionFailed
from clinicdesk.core.sqlite_driver import bundled_aiosqlite_dbapi, sqlite_version
from clinicdesk.core.tenancy import use_system_scope

log = structlog.get_logger(__name__)

DatabaseKind = Literal["sqlite", "postgresql"]
AfterCommitHook = Callable[[], Awaitable[None] | None]

# Execution option: open the SQLite transaction with a plain (deferred) BEGIN instead of
# BEGIN IMMEDIATE, for work that certainly only reads (exports, reports).
SQLITE_BEGIN_DEFERRED = "clinicdesk_sqlite_begin_deferred"

_PENDING_HOOKS = "clinicdesk.pending_after_commit"
_READY_HOOKS = "clinicdesk.ready_after_commit"
_ROLLBACK_HOOKS = "clinicdesk.after_rollback"
_AFTER_READ = "clinicdesk.write_after_read"


@dataclass(slots=True)
class Database:
    """An engine, its session factory and what kind of database sits behind it."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    kind: DatabaseKind
    faults: FaultLog = field(default_factory=FaultLog)
    reader: async_sessionmaker[AsyncSession] | None = None
    """SQLite only: sessions for work that reads (a GET): a deferred BEGIN that takes no
    write lock, and writes that cannot wait (audit entries of the reads) queued for just
    after (``write_after_read``). None on PostgreSQL, where readers never block writers."""

    def read_session(self) -> AsyncSession:
        """A session for a unit of work that reads (see ``reader``)."""
        if self.reader is None:
            return self.sessionmaker()
        session = self.reader()
        session.sync_session.info[_AFTER_READ] = []
        return session

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


@contextlib.contextmanager
def reading(session: AsyncSession) -> Iterator[AsyncSession]:
    """Treat ``session`` as a read unit of work for the block (``write_after_read`` queues,
    changes made in its own transaction are refused or warned about): what
    ``Database.read_session`` gives, for a session made elsewhere (the test suite's)."""
    session.sync_session.info[_AFTER_READ] = []
    try:
        yield session
    finally:
        session.sync_session.info.pop(_AFTER_READ, None)


WRITE_TURN_WAIT_SECONDS = 10.0
"""SQLite: how long a writer waits for its process's turn before its request gets 503."""


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
        # A turn comes in order and soon (each writer holds it for one short
        # transaction); the bound only turns a stuck process into 503s.
        _WriterTurns(max(sqlite_busy_timeout_ms / 1000, WRITE_TURN_WAIT_SECONDS)).install(engine)
    else:
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            # No pre-ping: it cost a round trip on every checkout. A connection that died
            # with the server fails its first statement instead; SQLAlchemy then drops
            # the whole pool, and that one request answers 503 with Retry-After.
            # asyncpg prepares every statement, and after five runs PostgreSQL may switch
            # to a generic plan that ignores the values: for a prefix search that plan
            # joins whole tables (50 ms instead of 2). Plan with the actual values.
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        )
    sessionmaker = async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=ClinicSession
    )
    reader = None
    if kind == "sqlite":
        reader = async_sessionmaker(
            engine.execution_options(**{SQLITE_BEGIN_DEFERRED: True}),
            expire_on_commit=False,
            sync_session_class=ClinicSession,
        )
    database = Database(engine=engine, sessionmaker=sessionmaker, kind=kind, reader=reader)
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
        if _AFTER_READ in self.info and self._has_changes():
            _wrote_while_reading(self)
        try:
            super().flush(objects)
        except StaleDataError as error:
            raise PreconditionFailed(STALE_MESSAGE) from error

    def _has_changes(self) -> bool:
        return bool(self.new or self.deleted) or any(self.is_modified(obj) for obj in self.dirty)


READS_MUST_NOT_WRITE = False
"""Whether a read unit of work (SQLite, a GET) that changes rows in its own transaction
is an error (the test suite sets it, so every such path is found) or a logged warning.
Such a write works while no other writer has committed since the read began, and fails
with a busy error (503, Retry-After) otherwise; writes a read must make go through
``write_after_read``."""


def _wrote_while_reading(session: Session) -> None:
    changed = sorted(
        {type(obj).__name__ for obj in (*session.new, *session.dirty, *session.deleted)}
    )
    if READS_MUST_NOT_WRITE:
        raise RuntimeError(f"a read-only unit of work changed {', '.join(changed)}")
    log.warning("unit_of_work.read_wrote", changed=changed)


def _remember_faults(engine: AsyncEngine, faults: FaultLog) -> None:
    """Note every fault a ``SELECT 1`` cannot see (a full disk), whoever met it, for
    readiness. Connection-level: requests, jobs and CLI commands all pass here."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        kind = fault_kind(context.original_exception)
        if kind is not None:
            faults.record(kind)


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, busy timeout and durable commits.

    pysqlite's own transaction handling starts transactions lazily and breaks SAVEPOINT;
    SQLAlchemy's documented remedy is to switch it off and emit BEGIN ourselves
    (``_WriterTurns``).
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


class WriterWaitsForItself(sa_exc.InvalidRequestError):
    """A second write transaction opened by a task that already holds the write turn on
    SQLite (one writer at a time): it could only wait for itself."""

    def __init__(self) -> None:
        super().__init__("this task already holds SQLite's write turn on another connection")


class _WriterTurns:
    """SQLite: the writers of one process take their turns in order, inside the process.

    Every unit of work that may write begins IMMEDIATE, holding SQLite's write lock from
    its first statement (a deferred transaction that read and then writes fails with
    SQLITE_BUSY when another writer committed in between). Before this, they waited for
    the lock on SQLite's busy timeout: sleeping and polling, in no order, so under load a
    writer could lose every poll and fail with "database is locked". Now a writer first
    waits for this process's turn (an asyncio lock: first come, first served, no
    polling), and only then asks SQLite, which it then gets at once unless another
    process (a CLI command) holds it; that case keeps the busy timeout. Work that only
    reads begins deferred (``SQLITE_BEGIN_DEFERRED``) and waits for nobody.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._held: dict[int, asyncio.Lock] = {}
        self._owners: dict[asyncio.Lock, asyncio.Task[Any] | None] = {}

    def install(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine
        dialect = sync_engine.dialect

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            deferred = conn.get_execution_options().get(SQLITE_BEGIN_DEFERRED, False)
            if deferred:
                conn.exec_driver_sql("BEGIN")
                return
            dbapi_connection = conn.connection.dbapi_connection
            self._wait_for_turn(dbapi_connection)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                self._end_turn(dbapi_connection)
                raise

        # The turn ends when the transaction does, whichever way (commit, rollback, the
        # pool's reset, a closed or invalidated connection). SQLAlchemy has no event
        # after a commit, so the dialect's own calls are wrapped, on this engine only.
        for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
            setattr(dialect, name, self._ending_turn(getattr(dialect, name)))

    def _ending_turn(self, call: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapped(dbapi_connection: Any) -> None:
            try:
                call(dbapi_connection)
            finally:
                self._end_turn(dbapi_connection)

        return wrapped

    def _wait_for_turn(self, dbapi_connection: Any) -> None:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        task = asyncio.current_task()
        if lock.locked() and self._owners.get(lock) is task:
            # This task already writes on another connection and would wait for itself
            # (SQLite would have failed it after the busy timeout).
            raise WriterWaitsForItself
        try:
            if lock.locked():
                await_only(asyncio.wait_for(lock.acquire(), self._timeout))
            else:  # free: take it now (wait_for with a zero timeout would not even try)
                await_only(lock.acquire())
        except TimeoutError:
            raise sa_exc.TimeoutError(
                f"no turn to write within {self._timeout:g} s (the database is busy)"
            ) from None
        self._held[id(dbapi_connection)] = lock
        self._owners[lock] = task

    def _end_turn(self, connection: Any) -> None:
        # The dialect gets the pool's proxy (commit, rollback) or the raw DB-API
        # connection (close); the turn was taken for the raw one.
        dbapi_connection = getattr(connection, "dbapi_connection", connection)
        lock = self._held.pop(id(dbapi_connection), None)
        if lock is not None:
            self._owners.pop(lock, None)
            lock.release()


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
    after-commit hooks once the commit is done. A read unit of work (``read_session``)
    then writes what it queued with ``write_after_read`` before the block counts as done:
    a failure there fails the unit of work (the response is an error, not the data)."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        await run_after_rollback(session)
        raise
    await session.commit()
    queued = session.sync_session.info.get(_AFTER_READ)
    if queued:
        session.sync_session.info[_AFTER_READ] = []
        try:
            await _AFTER_READ_WRITER.write(session, queued)
        except BaseException:
            await run_after_rollback(session)
            raise
    await run_after_commit(session)


AfterRead = Any  # a new ORM object to insert, or a Core DML statement to execute


def is_read_unit(session: Session) -> bool:
    """Whether ``session`` (the sync one) is a read unit of work, which writes nothing in
    its own transaction."""
    return _AFTER_READ in session.info


def write_after_read(session: AsyncSession, *writes: AfterRead) -> bool:
    """In a read unit of work (SQLite, a GET): queue ``writes`` (new ORM objects, Core
    UPDATE/INSERT statements) for one short write transaction just after the read one,
    which the unit of work awaits before it ends. Returns False when ``session`` writes
    in its own transaction (PostgreSQL, or any unit of work that may write); the caller
    then adds or executes them itself.

    For writes that belong to a read: its audit entry, a session's last-seen time. They
    commit before the response leaves, so nothing is shown that is not on record."""
    queue = session.sync_session.info.get(_AFTER_READ)
    if queue is None:
        return False
    queue.extend(writes)
    return True


class _GroupWriter:
    """Writes the queues of read units of work, many per transaction (group commit).

    The first read to arrive opens a write transaction and waits for its turn; reads
    that finish meanwhile join its batch; when the turn comes, the whole batch is written
    (each read's writes in a savepoint of their own, so one failing write fails only its
    own read) and committed with one disk sync."""

    def __init__(self) -> None:
        self._open: dict[int, list[tuple[list[AfterRead], asyncio.Future[None]]]] = {}
        self._writers: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = (
            weakref.WeakKeyDictionary()
        )
        self._flushing: set[asyncio.Task[None]] = set()  # held so they are not collected

    def _writing(self, bind: Any) -> AsyncEngine | AsyncConnection:
        """The read session's engine begins deferred; the batch is a writer (IMMEDIATE,
        after its turn). A connection (the test suite's) is joined as it is."""
        if not isinstance(bind, AsyncEngine):
            return bind  # type: ignore[no-any-return]
        writer = self._writers.get(bind)
        if writer is None:
            writer = self._writers[bind] = bind.execution_options(**{SQLITE_BEGIN_DEFERRED: False})
        return writer

    async def write(self, session: AsyncSession, writes: list[AfterRead]) -> None:
        bind = session.bind
        key = id(bind)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch = self._open.get(key)
        if batch is not None:
            batch.append((writes, done))
        else:
            batch = self._open[key] = [(writes, done)]
            # The batch is flushed by a task of its own, not by the request that opened
            # it: a client that disconnects cancels its own wait, never the others' write.
            flush = asyncio.create_task(self._flush(bind, key, batch))
            self._flushing.add(flush)
            flush.add_done_callback(self._flushing.discard)
        await done

    async def _flush(
        self, bind: Any, key: int, batch: list[tuple[list[AfterRead], asyncio.Future[None]]]
    ) -> None:
        try:
            async with independent_session(self._writing(bind)) as writer:
                await writer.connection()  # BEGIN IMMEDIATE: this process's turn to write
                del self._open[key]  # later arrivals start the next batch
                await _write_batch(writer, batch)
        except BaseException as error:
            if self._open.get(key) is batch:
                del self._open[key]
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(error)
            if not isinstance(error, Exception):
                raise
        else:
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_result(None)


async def _write_batch(
    writer: AsyncSession, batch: list[tuple[list[AfterRead], asyncio.Future[None]]]
) -> None:
    # Rows arrive stamped with their organization by the read that made them, and each
    # statement names its row by id: the system scope adds no tenant criteria.
    await use_system_scope(writer)
    for writes, done in batch:
        try:
            async with writer.begin_nested():
                for write in writes:
                    if isinstance(write, Executable):
                        await writer.execute(write)
                    else:
                        writer.add(write)
        except Exception as error:  # only this read fails; the others are written
            if not done.done():  # a cancelled request no longer waits for its answer
                done.set_exception(error)


_AFTER_READ_WRITER = _GroupWriter()


@asynccontextmanager
async def independent_session(
    session_or_engine: AsyncSession | AsyncEngine | AsyncConnection,
) -> AsyncIterator[AsyncSession]:
    """A unit of work of its own on the same database as ``session`` (used by rollback
    hooks, which must write although the request's transaction failed), or on ``engine``."""
    bind = (
        session_or_engine.bind if isinstance(session_or_engine, AsyncSession) else session_or_engine
    )
    maker = async_sessionmaker(bind, expire_on_commit=False, sync_session_class=ClinicSession)
    async with maker() as independent, unit_of_work(independent):
        yield independent


@asynccontextmanager
async def session_scope(db: Database) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request (CLI, jobs)."""
    async with db.sessionmaker() as session, unit_of_work(session):
        yield session
