"""``Idempotency-Key``: a retried POST gets the first answer again, never a second record.

The key is claimed by inserting its row at the start of the use case, in the use case's
own transaction, with one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (no savepoint:
three round trips fewer than catching the unique violation). Two identical requests at
once: on PostgreSQL the second insert waits on the unique index until the first commits,
then inserts nothing, and the second request answers with what the first stored; on
SQLite the write lock taken at BEGIN orders them the same way. If the use case fails,
the claim rolls back with it and a retry runs afresh.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import JSON, Integer, String, Table, UniqueConstraint, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.errors import ClinicError
from clinicdesk.core.models import Base, IdMixin, TimestampMixin, utcnow
from clinicdesk.core.tenancy import TenantScoped, current_tenant

MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(ClinicError):
    status_code = 422
    title = "Idempotency-Key reused"
    code = "idempotency-key-reused"


class IdempotencyRecord(Base, IdMixin, TimestampMixin, TenantScoped):
    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    operation: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[Any | None] = mapped_column(JSON, default=None)

    __table_args__ = (UniqueConstraint("organization_id", "user_id", "operation", "key"),)


RECORDS = cast(Table, IdempotencyRecord.__table__)


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def _stored(
    session: AsyncSession, *, key: str, user_id: uuid.UUID | None, operation: str
) -> IdempotencyRecord | None:
    statement = select(IdempotencyRecord).where(
        IdempotencyRecord.key == key,
        IdempotencyRecord.user_id == user_id if user_id else IdempotencyRecord.user_id.is_(None),
        IdempotencyRecord.operation == operation,
    )
    return (await session.scalars(statement.execution_options(populate_existing=True))).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Outcome:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request. Use a new key "
            "for a new request; reuse a key only to retry the same one."
        )
    return Outcome(status_code=record.status_code or 200, body=record.response, replayed=True)


async def run_once(
    session: AsyncSession,
    *,
    key: str | None,
    user_id: uuid.UUID | None,
    operation: str,
    body: Any,
    use_case: Callable[[], Awaitable[tuple[int, Any]]],
) -> Outcome:
    """Run ``use_case`` (returning status and JSON body) at most once per key."""
    if not key:
        status_code, response = await use_case()
        return Outcome(status_code=status_code, body=response, replayed=False)
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyReused(f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.")
    fingerprint = request_hash(body)
    if user_id is None:
        # No user (a patient in the portal): a NULL never conflicts in the unique index,
        # so a key used before is looked for first.
        found = await _stored(session, key=key, user_id=user_id, operation=operation)
        if found is not None:
            return _replay(found, fingerprint)
    # A new key (nearly every request) costs this one statement; a key seen before, or
    # committed meanwhile by a concurrent request, is answered as its first request was.
    claimed = await _claim(
        session, key=key, user_id=user_id, operation=operation, fingerprint=fingerprint
    )
    if claimed is None:
        found = await _stored(session, key=key, user_id=user_id, operation=operation)
        if found is None:
            raise RuntimeError("an Idempotency-Key's row conflicted but cannot be read")
        return _replay(found, fingerprint)
    status_code, response = await use_case()
    # Core statements on the table, by the id just claimed: the ORM's statement path
    # (tenant criteria, bulk-update compilation) would cost more than the statement.
    connection = await session.connection()
    await connection.execute(
        update(RECORDS)
        .where(RECORDS.c.id == claimed)
        .values(status_code=status_code, response=response, updated_at=utcnow())
    )
    return Outcome(status_code=status_code, body=response, replayed=False)


async def _claim(
    session: AsyncSession,
    *,
    key: str,
    user_id: uuid.UUID | None,
    operation: str,
    fingerprint: str,
) -> uuid.UUID | None:
    """Insert the key's row; its id, or None when the row exists (another request has
    the key). The organization is stamped here: a Core insert skips the ORM's stamping."""
    connection = await session.connection()
    on_conflict = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = (
        on_conflict(RECORDS)
        .values(
            organization_id=current_tenant(session),
            key=key,
            user_id=user_id,
            operation=operation,
            request_hash=fingerprint,
        )
        .on_conflict_do_nothing()
        .returning(RECORDS.c.id)
    )
    claimed: uuid.UUID | None = (await connection.execute(statement)).scalar()
    return claimed


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=MAX_KEY_LENGTH,
        description="Any unique string; a retry with the same key gets the first answer "
        "again instead of creating a second record.",
    ),
]


async def created_once(
    session: AsyncSession,
    *,
    key: str | None,
    user_id: uuid.UUID | None,
    operation: str,
    body: BaseModel,
    create: Callable[[], Awaitable[BaseModel]],
) -> JSONResponse:
    """A creating POST of the JSON API, at most once per ``Idempotency-Key``: 201 with
    the created record (and its ``ETag`` when it has a ``version``), or the first
    answer again with ``Idempotency-Replayed: true``."""

    async def use_case() -> tuple[int, Any]:
        return 201, (await create()).model_dump(mode="json")

    outcome = await run_once(
        session,
        key=key,
        user_id=user_id,
        operation=operation,
        body=body.model_dump(mode="json"),
        use_case=use_case,
    )
    headers: dict[str, str] = {}
    if isinstance(outcome.body, dict) and isinstance(outcome.body.get("version"), int):
        headers["ETag"] = f'W/"{outcome.body["version"]}"'
    if outcome.replayed:
        headers["Idempotency-Replayed"] = "true"
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
