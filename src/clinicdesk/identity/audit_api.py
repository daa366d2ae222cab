"""The audit report over the JSON API.

The audit domain sits below identity (identity records into it), so the routes that
read the trail, which need identity's access control, live here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from clinicdesk.audit import public as audit
from clinicdesk.audit.errors import UnknownFilter
from clinicdesk.audit.schemas import AuditListQuery, AuditPage, AuditQuery, filters_of
from clinicdesk.core.models import utcnow
from clinicdesk.core.runtime import SessionDep
from clinicdesk.identity.auth import AuditRead

router = APIRouter(prefix="/api/v1", tags=["audit"])


def known_parameters(model: type[BaseModel]) -> Callable[[Request], None]:
    """A dependency refusing any query parameter that ``model`` does not name, with the
    list of those it does. It runs before the parameters are validated, so the answer
    names what to use instead of a bare "extra inputs are not permitted"."""
    allowed = sorted(model.model_fields)

    def refuse_unknown(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise UnknownFilter(
                f"Unknown filter {', '.join(unknown)}. The audit report filters and sorts "
                f"by: {', '.join(allowed)}.",
                unknown=unknown,
                allowed=allowed,
            )

    return refuse_unknown


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
