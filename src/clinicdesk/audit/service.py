"""Recording, reading and verifying the audit trail.

Rules:
* ``record`` writes in the caller's transaction: if the audit write fails, the change
  fails with it. Reads of patient data are recorded once per request, not per row.
* Field-level changes keep before and after values, except secrets and encrypted fields,
  which are only marked as changed.
* Each entry gets its place in its organization's hash chain (sequence number, the hash
  of the entry before, its own hash over its content) just after its transaction commits
  (``chaining``); ``verify_chains`` recomputes every chain.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from clinicdesk.audit.chaining import (
    chain_after_commit,
    chain_everything_waiting,
    compute_hash,
    remember_written,
)
from clinicdesk.audit.models import (
    GENESIS_HASH,
    INSTALLATION_CHAIN,
    AuditChainHead,
    AuditEvent,
    Outcome,
)
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.context import current_request
from clinicdesk.core.crypto import EncryptedText
from clinicdesk.core.db import independent_session, on_rollback, write_after_read
from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.tenancy import (
    TenantScopeError,
    current_scope,
    scope_to_tenant,
    use_system_scope,
)

SECRET = "secret"  # noqa: S105 - a marker name, not a password
"""``mapped_column(..., info={"audit": SECRET})``: recorded as changed, never its value."""
DERIVED = "derived"
"""``info={"audit": DERIVED}``: computed from other columns (a search key); not recorded."""


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def snapshot(obj: object) -> dict[str, Any]:
    """The column values of ``obj``, secrets replaced by a marker, ready for ``changes``."""
    mapper = inspect(type(obj))
    values: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if column.info.get("audit") == DERIVED:
            continue
        if column.info.get("audit") == SECRET or isinstance(column.type, EncryptedText):
            values[attr.key] = _SecretValue(getattr(obj, attr.key))
        else:
            values[attr.key] = _jsonable(getattr(obj, attr.key))
    return values


@dataclass(frozen=True, slots=True)
class _SecretValue:
    value: Any


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """Field-level differences between two snapshots (``before`` None for a new record)."""
    result: dict[str, Any] = {}
    ignored = {"id", "created_at", "updated_at", "version", "organization_id"}
    for key, new in after.items():
        new_raw = new.value if isinstance(new, _SecretValue) else new
        if key in ignored or (before is None and new_raw is None):
            continue
        old = before.get(key) if before is not None else None
        if isinstance(new, _SecretValue) or isinstance(old, _SecretValue):
            old_raw = old.value if isinstance(old, _SecretValue) else old
            new_raw = new.value if isinstance(new, _SecretValue) else new
            if before is None or old_raw != new_raw:
                result[key] = {"changed": True, "set": new_raw is not None}
        elif before is None or old != new:
            result[key] = {"before": old, "after": new} if before is not None else {"after": new}
    return result


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor: Actor | None = None,
    organization_id: uuid.UUID | None = None,
    resource_type: str | None = None,
    resource_id: uuid.UUID | str | None = None,
    patient_id: uuid.UUID | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    changes: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    flush: bool = True,
) -> AuditEvent:
    """Write one entry for the organization's chain, in the caller's transaction; it
    takes its place in the chain when the transaction commits.

    The organization is, in order: the one given, the actor's, the session's tenant.
    ``details`` must not hold patient data in clear; ids are fine.

    ``flush=False`` leaves the entry's INSERT to the caller's next flush, which must come
    before the session's tenant scope changes (the flush stamps new rows with the scope
    in force). A use case that writes several rows and entries (a payment) then writes
    them in one flush, its entries as one multi-row INSERT, instead of a round trip each.
    """
    actor = actor or SYSTEM
    tenant = current_scope(session).organization_id
    org = organization_id or actor.organization_id or tenant
    if tenant is not None and org != tenant:
        # The row would be stamped with the session's tenant while hashed under another.
        raise TenantScopeError(
            f"audit entry for organization {org} in a session scoped to {tenant}"
        )
    chain_id = org or INSTALLATION_CHAIN
    info = current_request()
    event = AuditEvent(
        # Known now, not at the flush: the entry may wait for the transaction's next
        # flush, and the chain orders entries of one instant by id.
        id=new_id(),
        organization_id=org,
        chain_id=chain_id,
        occurred_at=utcnow(),
        actor_kind=actor.kind.value,
        actor_user_id=actor.user_id,
        actor_roles=sorted(actor.roles),
        client_addr=info.client_addr,
        user_agent=info.user_agent,
        request_id=info.request_id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        patient_id=patient_id,
        outcome=outcome.value,
        changes=_jsonable(changes) if changes else None,
        details=_jsonable(details) if details else None,
    )
    # Its place in the chain comes after the commit; no lock is taken here.
    chain_after_commit(session, chain_id)
    if write_after_read(session, event):
        return event  # a read on SQLite: written just after its read transaction
    session.add(event)
    remember_written(session, event)
    if flush:
        await session.flush()
    return event


async def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: Any,
    before: Mapping[str, Any] | None,
    *,
    resource_type: str,
) -> AuditEvent:
    """The entry of a change to ``row`` (an ORM row with an ``id``, and a
    ``patient_id`` when it belongs to a patient's record): what changed since ``before``
    (its ``snapshot`` before the change; None for a new record)."""
    return await record(
        session,
        action=action,
        actor=actor,
        resource_type=resource_type,
        resource_id=row.id,
        patient_id=getattr(row, "patient_id", None),
        changes=changes(before, snapshot(row)),
    )


def start_chain(session: AsyncSession, chain_id: uuid.UUID) -> None:
    """Open the audit chain of a new organization (its first entry links to genesis)."""
    session.add(AuditChainHead(chain_id=chain_id))


# --- reads of patient data -----------------------------------------------------------

VIEWED = "patient.viewed"
LISTED = "patient.listed"
READ_ACTIONS = (
    VIEWED,
    LISTED,
    "patient.identifier_revealed",
    "patient.break_glass",
    "document.downloaded",
    # The audit report's own entry holds its query: the trail is append-only, so running
    # it again up to the entry's time shows exactly the rows that were read.
    "audit.viewed",
    "audit.exported",
)
"""Actions that record a read of patient data."""
_READS_KEY = "clinicdesk.audit.reads"


_Seen = tuple[str, uuid.UUID | None, uuid.UUID]  # actor kind, actor id, patient


@dataclass(slots=True)
class _Reads:
    transaction: weakref.ref[Any]
    viewed: set[_Seen]
    listed: set[_Seen]


def _reads_recorded(session: AsyncSession) -> _Reads:
    """The patients whose read is already on the trail in this transaction (one request:
    STYLE rule 1). Kept in ``session.info`` against the transaction object, so the next
    transaction of the same session starts afresh."""
    # Beginning here connects nothing yet (that happens at the first statement); the
    # entry about to be written would begin the same transaction anyway.
    transaction = session.sync_session.get_transaction() or session.sync_session.begin()
    held = session.info.get(_READS_KEY)
    if not isinstance(held, _Reads) or held.transaction() is not transaction:
        held = _Reads(weakref.ref(transaction), set(), set())
        session.info[_READS_KEY] = held
    return held


async def record_read(
    session: AsyncSession,
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    view: str,
    resource_type: str = "patient",
    resource_id: uuid.UUID | None = None,
) -> None:
    """Record that ``actor`` was shown this patient's data (``view``: "chart",
    "appointment", "visit", "changes"...). Every use case that returns one patient's data
    calls this, whichever route serves it (API, page, portal, export).

    One entry per patient per request: a page that gathers the chart, its history and
    its documents is one read, and later calls in the same transaction add nothing. The
    patient sees these entries as "who viewed my record"."""
    reads = _reads_recorded(session)
    seen = (actor.kind.value, actor.user_id, patient_id)
    if seen in reads.viewed:
        return
    reads.viewed.add(seen)
    await record(
        session,
        action=VIEWED,
        actor=actor,
        resource_type=resource_type,
        resource_id=resource_id or patient_id,
        patient_id=patient_id,
        details={"view": view},
    )


async def record_list_read(
    session: AsyncSession, *, actor: Actor, patient_ids: Iterable[uuid.UUID], view: str
) -> None:
    """Record that ``actor`` was shown a list naming these patients (a search, a day's
    appointments, a queue): one entry for the whole list, with the ids in ``details``.

    One entry, not one per patient: a queue screen refreshing every few seconds would
    otherwise append dozens of entries per refresh, each taking the chain's lock. The
    ids (a list is a page: tens of rows, never "all") rather than the query, because a
    query re-run later answers with today's rows, not the ones that were shown. Patients
    already recorded in this request are left out; an empty list records nothing."""
    reads = _reads_recorded(session)
    who = (actor.kind.value, actor.user_id)
    recorded = reads.viewed | reads.listed
    ids = sorted({p for p in patient_ids if (*who, p) not in recorded}, key=str)
    if not ids:
        return
    reads.listed.update((*who, p) for p in ids)
    await record(
        session,
        action=LISTED,
        actor=actor,
        resource_type="patient",
        # A list of one still names its patient in the indexed column.
        patient_id=ids[0] if len(ids) == 1 else None,
        details={"view": view, "patient_ids": [str(i) for i in ids]},
    )


async def record_moved_by_merge(
    session: AsyncSession,
    *,
    actor: Actor,
    resource_type: str,
    resource_ids: Sequence[uuid.UUID],
    kept_id: uuid.UUID,
    duplicate_id: uuid.UUID,
    reason: str,
) -> None:
    """One entry per record that a patient merge moved from the duplicate to the kept
    record, so each record's own history says it changed hands, when and why."""
    for resource_id in resource_ids:
        await record(
            session,
            action=f"{resource_type}.moved_by_merge",
            actor=actor,
            resource_type=resource_type,
            resource_id=resource_id,
            patient_id=kept_id,
            changes={"patient_id": {"before": str(duplicate_id), "after": str(kept_id)}},
            details={"reason": reason},
        )


def record_if_rolled_back(session: AsyncSession, **entry: Any) -> None:
    """Record ``entry`` even though the current unit of work is about to fail (a refused
    permission, a throttled attempt): written in a transaction of its own after the
    rollback, so the refusal is on the record while nothing else of the request is."""

    async def write() -> None:
        async with independent_session(session) as independent:
            actor = entry.get("actor")
            org = entry.get("organization_id") or (actor.organization_id if actor else None)
            if org is None:
                await use_system_scope(independent)
            else:
                await scope_to_tenant(independent, org)
            await record(independent, **entry)

    on_rollback(session, write)


# --- verification -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainProblem:
    chain_id: uuid.UUID
    organization_id: uuid.UUID | None
    seq: int
    event_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    chains: int
    entries: int
    problems: Sequence[ChainProblem]
    chained_now: int = 0
    """Entries that were still waiting for their place and were chained by this check."""

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_chains(session: AsyncSession, *, batch_size: int = 5000) -> VerifyReport:
    """Recompute every chain; report the first entry of each chain that does not match.

    Entries still waiting for their place (their process stopped between the commit
    and the chaining step) are chained first, so every entry in the table is checked;
    call it on a fresh session. Checks that sequence numbers have no gaps, that each
    entry names the hash of the one before, that each entry's hash matches its content,
    that the chain head agrees with the last entry, and that no entry is left outside
    its chain. Runs in the system scope (it reads every organization).
    """
    bind = session.bind
    if not isinstance(bind, AsyncEngine | AsyncConnection):
        raise TypeError("verify_chains needs a session bound to an engine or a connection")
    chained_now = await chain_everything_waiting(bind)
    await use_system_scope(session)
    heads = {h.chain_id: h for h in (await session.execute(select(AuditChainHead))).scalars()}
    chain_ids = set(heads) | set(
        (await session.execute(select(AuditEvent.chain_id).distinct())).scalars()
    )
    problems: list[ChainProblem] = []
    entries = 0
    for chain_id in sorted(chain_ids):
        expected_prev, expected_seq, last_org = GENESIS_HASH, 1, None
        problem: ChainProblem | None = None
        after_seq = 0
        while problem is None:
            rows = (
                (
                    await session.execute(
                        select(AuditEvent)
                        .where(AuditEvent.chain_id == chain_id, AuditEvent.seq > after_seq)
                        .order_by(AuditEvent.seq)
                        .limit(batch_size)
                        .execution_options(populate_existing=True)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                break
            for event in rows:
                entries += 1
                last_org = event.organization_id
                seq = event.seq or 0  # never empty here: only chained rows pass seq > n
                reason = None
                if seq != expected_seq:
                    reason = f"sequence gap: expected {expected_seq}, found {seq}"
                elif event.prev_hash != expected_prev:
                    reason = "does not link to the previous entry (prev_hash differs)"
                elif compute_hash(event) != event.hash:
                    reason = "content does not match its hash (the entry was altered)"
                if reason:
                    problem = ChainProblem(chain_id, event.organization_id, seq, event.id, reason)
                    break
                expected_prev, expected_seq = event.hash or "", seq + 1
            after_seq = rows[-1].seq or after_seq
            session.expunge_all()
        head = heads.get(chain_id)
        if (
            problem is None
            and head is not None
            and (head.seq != expected_seq - 1 or head.last_hash != expected_prev)
        ):
            problem = ChainProblem(
                chain_id,
                last_org,
                head.seq,
                None,
                "chain head does not match the last entry (entries removed or added)",
            )
        if problem is None:
            problem = await _unchained(session, chain_id)
        if problem:
            problems.append(problem)
    return VerifyReport(
        chains=len(chain_ids), entries=entries, problems=problems, chained_now=chained_now
    )


async def _unchained(session: AsyncSession, chain_id: uuid.UUID) -> ChainProblem | None:
    """An entry with no place after the chaining step ran: a half-written place (the
    chaining step sets all three columns together) or one that could not be chained."""
    left = (
        await session.execute(
            select(AuditEvent.id, AuditEvent.organization_id, func.count().over())
            .where(
                AuditEvent.chain_id == chain_id,
                (AuditEvent.seq.is_(None))
                | (AuditEvent.hash.is_(None))
                | (AuditEvent.prev_hash.is_(None)),
            )
            .limit(1)
        )
    ).first()
    if left is None:
        return None
    event_id, organization_id, count = left
    return ChainProblem(
        chain_id, organization_id, 0, event_id, f"{count} entries are outside the chain"
    )
