"""What the audit trail's routes share, the API's and the admin page's: who may read it,
refusing unknown filters by name, and the CSV download."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from clinicdesk.audit.errors import UnknownFilter
from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow
from clinicdesk.core.permissions import Permission

AuditRead = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]


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


async def csv_attachment(chunks: AsyncIterable[str]) -> StreamingResponse:
    """The export as a download. Buffered before the response starts: the export's own
    audit entry and the rows are read in the request's transaction, which commits before
    anything is sent."""
    buffered = [chunk async for chunk in chunks]

    async def body() -> AsyncIterator[str]:
        for chunk in buffered:
            yield chunk

    filename = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
