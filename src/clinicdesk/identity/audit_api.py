"""The audit report over the JSON API.

The audit domain sits below identity (identity records into it), so the routes that
read the trail, which need identity's access control, live here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from clinicdesk.audit import public as audit
from clinicdesk.audit.schemas import AuditPage, AuditQuery
from clinicdesk.core.models import utcnow
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import AuditRead

router = APIRouter(prefix="/api/v1", tags=["audit"])

Filters = Annotated[AuditQuery, Depends()]


@router.get("/audit-events", response_model=AuditPage, summary="The audit trail")
async def list_audit_events(
    actor: AuditRead,
    session: SessionDep,
    query: Filters,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AuditPage:
    return await audit.list_events(session, actor=actor, query=query, cursor=cursor, limit=limit)


@router.get(
    "/audit-events/export.csv",
    summary="The audit trail as CSV (spreadsheet-safe)",
    response_class=StreamingResponse,
)
async def export_audit_events(
    actor: AuditRead, session: SessionDep, query: Filters
) -> StreamingResponse:
    # Buffered before the response starts: the export's own audit entry and the rows
    # are read in the request's transaction, which commits before anything is sent.
    chunks = [chunk async for chunk in audit.export_csv(session, actor=actor, query=query)]

    async def body() -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk

    filename = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
