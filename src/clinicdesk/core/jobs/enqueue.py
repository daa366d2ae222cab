"""``enqueue``: the outbox write, in the caller's transaction.

A job row is added to the caller's session and commits or rolls back with the change
that asked for it; nothing runs before the commit. Once it commits, runners in this
process are woken at once (others find it at their next poll).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.db import on_commit
from clinicdesk.core.jobs.models import ACTIVE_SQL, Job, JobStatus
from clinicdesk.core.jobs.registry import JobKind, P
from clinicdesk.core.models import new_id, utcnow
from clinicdesk.core.tenancy import TenantScopeError, current_scope

# Runners of this process wait on these; a commit that enqueued a job sets them.
_local_wakers: set[asyncio.Event] = set()


def add_waker(event: asyncio.Event) -> None:
    _local_wakers.add(event)


def remove_waker(event: asyncio.Event) -> None:
    _local_wakers.discard(event)


def wake_local_runners() -> None:
    for event in list(_local_wakers):
        event.set()


def upsert(session: AsyncSession) -> Callable[[type[Any]], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT, which has ON CONFLICT (both databases support it)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _organization(session: AsyncSession, requested: uuid.UUID | None) -> uuid.UUID | None:
    """A tenant session enqueues for its own organization only; the system scope for any
    (or none: a system job); an unscoped session not at all (deny by default)."""
    scope = current_scope(session)
    if scope.organization_id is not None:
        if requested is not None and requested != scope.organization_id:
            raise TenantScopeError("a job for another organization from a tenant session")
        return scope.organization_id
    if not scope.system:
        raise TenantScopeError("refusing to enqueue a job without a tenant scope")
    return requested


async def enqueue(
    session: AsyncSession,
    kind: JobKind[P],
    payload: P,
    *,
    organization_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Add a job to the caller's transaction (no commit) and return its id.

    The organization is the session's tenant; in the system scope, ``organization_id``
    (None for a system job). With ``dedupe_key``, nothing is added while a job with the
    same key is queued or running, and None is returned.
    """
    if not isinstance(payload, kind.payload):
        raise TypeError(f"{kind.name} takes a {kind.payload.__name__} payload")
    job_id = new_id()
    values = {
        "id": job_id,
        "organization_id": _organization(session, organization_id),
        "kind": kind.name,
        "payload": payload.model_dump_json(),
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "max_attempts": kind.max_attempts,
        "run_at": run_at or utcnow(),
        "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }
    statement = insert(Job).values(values)
    if dedupe_key is not None:
        statement = (
            upsert(session)(Job)
            .values(values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text(ACTIVE_SQL))
        )
    inserted = (await session.execute(statement.returning(Job.id))).scalar_one_or_none()
    if inserted is None:
        return None
    on_commit(session, wake_local_runners)
    return job_id
