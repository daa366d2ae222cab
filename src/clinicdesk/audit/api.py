"""The audit trail over the JSON API: the report with every filter and sort, and its CSV
export. The audit domain guards its own routes (``core.access``); the admin page that
shows the report with people's names is identity's (it owns the names)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from clinicdesk.audit import public as audit
from clinicdesk.audit.schemas import AuditListQuery, AuditPage, AuditQuery, filters_of
from clinicdesk.audit.web import AuditRead, csv_attachment, known_parameters
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit-events",
    response_model=AuditPage,
    summary="The audit trail",
    dependencies=[Depends(known_parameters(AuditListQuery))],
)
async def list_audit_events(
    actor: AuditRead, session: SessionDep, query: Annotated[AuditListQuery, Query()]
) -> AuditPage:
    """Every field of an entry filters (``sort`` orders by any of them); an unknown
    parameter is a 422 that lists the known ones."""
    return await audit.list_events(
        session, actor=actor, query=filters_of(query), cursor=query.cursor, limit=query.limit
    )


@router.get(
    "/audit-events/export.csv",
    summary="The audit trail as CSV (spreadsheet-safe), with the report's filters",
    response_class=StreamingResponse,
    dependencies=[Depends(known_parameters(AuditQuery))],
)
async def export_audit_events(
    actor: AuditRead, session: SessionDep, query: Annotated[AuditQuery, Query()]
) -> StreamingResponse:
    return await csv_attachment(audit.export_csv(session, actor=actor, query=query))
