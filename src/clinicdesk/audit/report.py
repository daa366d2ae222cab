"""Reading the audit trail: the report with every filter and sort, its CSV export
(spreadsheet-safe), and a patient's trail ("who viewed my record"). Reading the report
is itself recorded, with its query."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import Select, Text, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit.models import (
    AuditEvent,
)
from clinicdesk.audit.schemas import AuditEventRead, AuditPage, AuditQuery, SortField
from clinicdesk.audit.service import LISTED, record
from clinicdesk.core.actor import Actor
from clinicdesk.core.pagination import decode_cursor, encode_cursor

_SORT_COLUMNS: dict[str, Any] = {
    "occurred_at": AuditEvent.occurred_at,
    "seq": AuditEvent.seq,
    "actor_kind": AuditEvent.actor_kind,
    "actor_user_id": AuditEvent.actor_user_id,
    # PostgreSQL's json type has no order; its text (a sorted list) sorts the same way
    # on both databases.
    "actor_roles": cast(AuditEvent.actor_roles, Text),
    "client_addr": AuditEvent.client_addr,
    "request_id": AuditEvent.request_id,
    "user_agent": AuditEvent.user_agent,
    "action": AuditEvent.action,
    "resource_type": AuditEvent.resource_type,
    "resource_id": AuditEvent.resource_id,
    "patient_id": AuditEvent.patient_id,
    "outcome": AuditEvent.outcome,
}
_EXACT = {
    "actor_kind": AuditEvent.actor_kind,
    "user_id": AuditEvent.actor_user_id,
    "client_addr": AuditEvent.client_addr,
    "request_id": AuditEvent.request_id,
    "action": AuditEvent.action,
    "resource_type": AuditEvent.resource_type,
    "resource_id": AuditEvent.resource_id,
    "outcome": AuditEvent.outcome,
}


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: AuditQuery) -> Select[AuditEvent]:
    """Every filter of ``query`` applied (an unset one matches everything), in its order."""
    statement = select(AuditEvent)
    if query.since is not None:
        statement = statement.where(AuditEvent.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.occurred_at < query.until)
    if query.patient_id is not None:
        # A list that showed the patient names it in its details (see record_list_read):
        # the accounting of who saw a patient includes it.
        statement = statement.where(
            or_(
                AuditEvent.patient_id == query.patient_id,
                and_(
                    AuditEvent.action == LISTED,
                    cast(AuditEvent.details, Text).like(f"%{query.patient_id}%"),
                ),
            )
        )
    for name, column in _EXACT.items():
        value = getattr(query, name)
        if value is not None and value != "":
            statement = statement.where(column == value)
    if query.role:
        # The roles are a JSON list of plain names (the schema admits only [a-z_]).
        roles = cast(AuditEvent.actor_roles, Text)
        statement = statement.where(roles.like(f'%"{_like_literal(query.role)}"%', escape="\\"))
    if query.user_agent:
        pattern = f"%{_like_literal(query.user_agent.lower())}%"
        statement = statement.where(func.lower(AuditEvent.user_agent).like(pattern, escape="\\"))
    column = _SORT_COLUMNS[query.sort]
    ordering = column.asc() if query.order == "asc" else column.desc()
    tiebreak = AuditEvent.id.asc() if query.order == "asc" else AuditEvent.id.desc()
    return statement.order_by(ordering.nulls_last(), tiebreak)


async def list_events(
    session: AsyncSession, *, actor: Actor, query: AuditQuery, cursor: str | None, limit: int
) -> AuditPage:
    """One page of the organization's audit trail (the tenant scope limits it to the
    caller's organization). Viewing the trail is itself recorded."""
    offset = decode_cursor(cursor)
    rows = (await session.execute(_filtered(query).offset(offset).limit(limit + 1))).scalars().all()
    await record(session, action="audit.viewed", actor=actor, details=_query_details(query))
    next_cursor = encode_cursor(offset + limit) if len(rows) > limit else None
    return AuditPage(
        items=[AuditEventRead.model_validate(row) for row in rows[:limit]],
        next_cursor=next_cursor,
    )


def _query_details(query: AuditQuery) -> dict[str, Any]:
    return {k: v for k, v in query.model_dump(mode="json").items() if v is not None}


# Every field the report sorts by, then what changed and the details.
CSV_COLUMNS = (*get_args(SortField), "changes", "details")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell that a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def export_csv(
    session: AsyncSession, *, actor: Actor, query: AuditQuery, max_rows: int = 100_000
) -> AsyncIterator[str]:
    """The filtered trail as CSV lines, streamed in batches; the export is recorded first."""
    await record(session, action="audit.exported", actor=actor, details=_query_details(query))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    offset, batch = 0, 1000
    while offset < max_rows:
        rows = (await session.execute(_filtered(query).offset(offset).limit(batch))).scalars().all()
        for row in rows:
            writer.writerow([csv_safe(getattr(row, column)) for column in CSV_COLUMNS])
        yield _drain(buffer)
        if len(rows) < batch:
            break
        offset += batch


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def patient_trail(
    session: AsyncSession,
    *,
    patient_ids: Sequence[uuid.UUID],
    only_actions: Sequence[str] | None = None,
    except_actions: Sequence[str] = (),
    offset: int = 0,
    limit: int = 50,
) -> list[AuditEvent]:
    """Entries about these patients, newest first: a chart's history, or who viewed it."""
    statement = select(AuditEvent).where(AuditEvent.patient_id.in_(patient_ids))
    if only_actions is not None:
        statement = statement.where(AuditEvent.action.in_(only_actions))
    if except_actions:
        statement = statement.where(AuditEvent.action.not_in(except_actions))
    statement = statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return list((await session.scalars(statement.offset(offset).limit(limit))).all())


async def resource_trail(
    session: AsyncSession,
    *,
    resource_type: str,
    resource_id: uuid.UUID,
    actions: Sequence[str] | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """Entries about one record, oldest first: its history, version by version (a note's
    drafts and signature). The caller checks access and records the read."""
    statement = select(AuditEvent).where(
        AuditEvent.resource_type == resource_type, AuditEvent.resource_id == str(resource_id)
    )
    if actions is not None:
        statement = statement.where(AuditEvent.action.in_(actions))
    statement = statement.order_by(AuditEvent.occurred_at, AuditEvent.id)
    return list((await session.scalars(statement.limit(limit))).all())
