"""The audit trail's chaining step: entries get their place in their organization's hash
chain just after the transaction that wrote them commits.

Why after the commit (README, "The audit chain"): if an entry took its place while its
transaction ran, the chain's head would stay locked until that transaction committed, so
every audited action of an organization (each chart opened) would wait for the one
before it. Instead:

* ``record`` inserts the entry in the caller's transaction, complete but without a place
  (``seq``, ``prev_hash`` and ``hash`` empty), so the entry commits or rolls back with the
  action it records, and nothing is locked but the new row.
* ``chain_pending`` gives the waiting entries of one chain their places in one short
  transaction that locks only the chain's head: sequence numbers continue from the head,
  each entry names its predecessor's hash and hashes its content with it. Chained entries
  never change again (on PostgreSQL a trigger refuses it, and the application role may
  update only those three columns).
* A ``Chainer`` in each server process does it in the background, woken by the commits:
  everything waiting in a chain is chained at once, so a busy clinic pays one short
  transaction for many requests. Every ``sweep_seconds`` it also looks for entries that
  any process left waiting (one that stopped between a commit and its chaining).
* Where no chainer runs (a CLI command, a job worker, a test) the commit hook chains at
  once, and ``verify_chains`` chains whatever is still waiting before it checks.
* On SQLite, which lets one transaction write at a time anyway, a writing transaction
  holds the write turn from its first statement, so its entries are chained in the same
  transaction, just before it commits: nobody waits longer, and no second transaction
  is spent on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from sqlalchemy import event, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from clinicdesk.audit.models import GENESIS_HASH, INSTALLATION_CHAIN, AuditChainHead, AuditEvent
from clinicdesk.core.db import (
    Database,
    WriterWaitsForItself,
    independent_session,
    is_read_unit,
    on_commit,
)
from clinicdesk.core.tenancy import scope_to_tenant, use_system_scope

log = structlog.get_logger(__name__)

Bind = AsyncEngine | AsyncConnection
"""Where the chaining step runs: the server's engine, or a connection (a test's outer
transaction, which the step must join to see the entries)."""

GATHER_SECONDS = 0.2
"""How long a woken chainer waits for more commits before it chains (PostgreSQL). A step
costs the same six statements for one entry or for hundreds, and it runs on the worker
that serves requests: at a clinic's pace (a few commits a second per worker) a short wait
made one step per request; this one makes one per several, at the price of an entry
waiting a fifth of a second longer for its place (it is committed from the start)."""

BATCH_SIZE = 500
"""Entries chained per transaction: bounds how long one chaining step holds the head."""


def canonical(event: AuditEvent) -> bytes:
    """What an entry's hash covers: all of its content, its place and its predecessor."""
    payload = {
        "chain_id": str(event.chain_id),
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "organization_id": str(event.organization_id) if event.organization_id else None,
        "actor_kind": event.actor_kind,
        "actor_user_id": str(event.actor_user_id) if event.actor_user_id else None,
        "actor_roles": sorted(event.actor_roles or []),
        "client_addr": event.client_addr,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "outcome": event.outcome,
        "changes": event.changes,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


# --- the chaining step -----------------------------------------------------------------


async def _scope_to_chain(session: AsyncSession, chain_id: uuid.UUID) -> None:
    if chain_id == INSTALLATION_CHAIN:
        await use_system_scope(session)
    else:
        await scope_to_tenant(session, chain_id)


async def _chain_batch(session: AsyncSession, chain_id: uuid.UUID, batch_size: int) -> int:
    head = await session.get(AuditChainHead, chain_id, with_for_update=True, populate_existing=True)
    if head is None:  # the installation chain, or an organization made before 0009
        head = AuditChainHead(chain_id=chain_id, seq=0, last_hash=GENESIS_HASH)
        session.add(head)
    waiting = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain_id, AuditEvent.seq.is_(None))
            # Commit order is not knowable afterwards; the time of the act is the fairest
            # order among entries that waited together. The chain's order is this one.
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
            .limit(batch_size)
        )
    ).all()
    for entry in waiting:
        entry.seq = head.seq + 1
        entry.prev_hash = head.last_hash
        entry.hash = compute_hash(entry)
        head.seq, head.last_hash = entry.seq, entry.hash
    return len(waiting)


async def chain_pending(engine: Bind, chain_id: uuid.UUID, *, batch_size: int = BATCH_SIZE) -> int:
    """Give every waiting entry of one chain its place; returns how many were chained.
    Safe to run from several processes at once: they take turns on the chain's head."""
    total, head_races = 0, 0
    while True:
        try:
            async with independent_session(engine) as session:
                await _scope_to_chain(session, chain_id)
                chained = await _chain_batch(session, chain_id, batch_size)
        except IntegrityError:
            # Two processes created a missing head at the same moment; the other won,
            # and the next attempt finds its head.
            head_races += 1
            if head_races > 1:
                raise
            continue
        total += chained
        if chained < batch_size:
            return total


async def chains_waiting(session: AsyncSession) -> list[uuid.UUID]:
    """The chains that have entries waiting for their place, across organizations. On
    PostgreSQL the application role sees one organization at a time, so the database
    answers through ``clinicdesk_unchained_audit_chains``, which tells chain ids only."""
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(text("SELECT clinicdesk_unchained_audit_chains()"))
        return sorted(uuid.UUID(str(row[0])) for row in rows)
    await use_system_scope(session)
    found = await session.scalars(
        select(AuditEvent.chain_id).where(AuditEvent.seq.is_(None)).distinct()
    )
    return sorted(found)


async def chain_everything_waiting(engine: Bind) -> int:
    async with independent_session(engine) as session:
        waiting = await chains_waiting(session)
    total = 0
    for chain_id in waiting:
        total += await chain_pending(engine, chain_id)
    return total


# --- SQLite: in the writing transaction ------------------------------------------------


@event.listens_for(Session, "before_commit")
def _chain_before_commit_on_sqlite(session: Session) -> None:
    """SQLite lets one transaction write at a time, and a writing unit of work holds
    that turn from its first statement: chaining its entries in the same transaction
    waits for nobody and saves a second transaction (and disk sync) per request. On
    PostgreSQL the step stays after the commit, where it holds up no one."""
    if session.in_nested_transaction():
        # A savepoint's release: its entries are chained with the others at the commit
        # (a group-commit batch reads and moves the chain head once, not once per read).
        return
    written = session.info.pop(WRITTEN_KEY, None)
    if session.bind is None or session.get_bind().dialect.name != "sqlite":
        return
    if is_read_unit(session):
        return  # its entries are written, and chained, by the write that follows it
    # The identity map holds its objects weakly: the entries are kept by ``record``.
    candidates = (*(written or ()), *session.new, *session.identity_map.values())
    waiting = list(
        {
            id(obj): obj
            for obj in candidates
            if isinstance(obj, AuditEvent) and obj.seq is None and _in_session(obj)
        }.values()
    )
    if not waiting:
        return
    session.flush()  # ids and defaults, in insertion order
    by_chain: dict[uuid.UUID, list[AuditEvent]] = {}
    for entry in waiting:
        by_chain.setdefault(entry.chain_id, []).append(entry)
    for chain_id, entries in by_chain.items():
        head = session.get(AuditChainHead, chain_id, populate_existing=True)
        if head is None:
            head = AuditChainHead(chain_id=chain_id, seq=0, last_hash=GENESIS_HASH)
            session.add(head)
        for entry in sorted(entries, key=lambda e: (e.occurred_at, e.id)):
            entry.seq = (head.seq or 0) + 1
            entry.prev_hash = head.last_hash
            entry.hash = compute_hash(entry)
            head.seq, head.last_hash = entry.seq, entry.hash
    session.flush()


WRITTEN_KEY = "clinicdesk.audit.written"


def remember_written(session: AsyncSession, entry: AuditEvent) -> None:
    """Keep ``entry`` for the chaining step of its transaction (SQLite)."""
    session.sync_session.info.setdefault(WRITTEN_KEY, []).append(entry)


def _in_session(entry: AuditEvent) -> bool:
    state = sa_inspect(entry)
    return bool(state.pending or state.persistent)


@event.listens_for(Session, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)


# --- who runs it -------------------------------------------------------------------------

_CHAINERS: weakref.WeakKeyDictionary[object, Chainer] = weakref.WeakKeyDictionary()


def _engine_key(engine: AsyncEngine) -> object:
    """The engine's pool: shared by the engine and its variants with other execution
    options (the read sessions' engine), so all of them find the process's chainer."""
    return engine.sync_engine.pool


_ASKED_KEY = "clinicdesk.audit.chains_asked"


class Chainer:
    """Chains in the background for one server process (started by the app's lifespan)."""

    def __init__(self, db: Database, *, sweep_seconds: float = 2.0) -> None:
        self._db = db
        self._sweep_seconds = sweep_seconds
        self._waiting: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ask(self, chain_id: uuid.UUID) -> None:
        self._waiting.add(chain_id)
        self._wake.set()

    async def start(self) -> None:
        _CHAINERS[_engine_key(self._db.engine)] = self
        self._task = asyncio.create_task(self._run(), name="audit-chainer")

    async def stop(self) -> None:
        _CHAINERS.pop(_engine_key(self._db.engine), None)
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        # What this process wrote last is chained before it goes (a crash leaves it to
        # the next sweep of any process, or to `audit verify`).
        with suppress(Exception):
            await chain_everything_waiting(self._db.engine)

    async def _run(self) -> None:
        sweep = True  # at start: whatever a stopped process left waiting
        while True:
            try:
                if not sweep:
                    # Let the commits of the next moment join: one step for many.
                    await asyncio.sleep(GATHER_SECONDS)
                if sweep:
                    await chain_everything_waiting(self._db.engine)
                while self._waiting:
                    chain_id = self._waiting.pop()
                    await chain_pending(self._db.engine, chain_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is away or busy: the entries stay waiting, complete and
                # committed; the next sweep chains them.
                log.warning("audit.chaining_failed", exc_info=True)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._sweep_seconds)
                sweep = False
            except TimeoutError:
                sweep = True


def chain_after_commit(session: AsyncSession, chain_id: uuid.UUID) -> None:
    """Ask for ``chain_id`` to be chained once the session's transaction commits (once per
    transaction and chain, however many entries it wrote)."""
    transaction = session.sync_session.get_transaction() or session.sync_session.begin()
    asked = session.info.get(_ASKED_KEY)
    if not isinstance(asked, tuple) or asked[0]() is not transaction:
        asked = (weakref.ref(transaction), set())
        session.info[_ASKED_KEY] = asked
    if chain_id in asked[1]:
        return
    asked[1].add(chain_id)
    bind = session.bind
    if not isinstance(bind, AsyncEngine | AsyncConnection):
        raise TypeError("an audited session is bound to an engine or a connection")
    if bind.dialect.name == "sqlite":
        return  # chained in the transaction itself (_chain_before_commit_on_sqlite)

    async def chain() -> None:
        chainer = _CHAINERS.get(_engine_key(bind)) if isinstance(bind, AsyncEngine) else None
        if chainer is not None:
            chainer.ask(chain_id)
            return
        try:
            await chain_pending(bind, chain_id)
        except WriterWaitsForItself:
            # Committed inside another write on SQLite (a nested unit of work): the
            # entries wait, complete, for the next chaining step or `audit verify`.
            log.debug("audit.chaining_deferred", chain_id=str(chain_id))

    on_commit(session, chain)


@asynccontextmanager
async def running_chainer(db: Database) -> AsyncIterator[Chainer]:
    chainer = Chainer(db)
    await chainer.start()
    try:
        yield chainer
    finally:
        await chainer.stop()
