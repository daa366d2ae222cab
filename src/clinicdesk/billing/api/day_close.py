"""JSON API of day close: the day's summary (``billing:read``: billing, reception and the
admin see what the desk should hold), the close (``billing:refund``: billing and the
admin; the front desk counts, a billing user closes), and the list of closings.

The close honours ``Idempotency-Key``: a retried close answers the first one; a close
without a key of a closed day is refused (409). The reopen (the admin: ``billing:refund``
and ``admin:settings``, see ``access.DayReopen``) needs a reason and keeps the closing as
history; the next close is a new closing."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from clinicdesk.billing.access import BillingRead, BillingRefund, DayReopen
from clinicdesk.billing.day_close_schemas import (
    ClosingDetail,
    ClosingEntryRead,
    ClosingLineRead,
    ClosingList,
    ClosingRead,
    DayCloseRequest,
    DayReopenRequest,
    DaySummaryRead,
    FiguresRead,
)
from clinicdesk.billing.service import day_close
from clinicdesk.billing.service.day_close import Count, DaySummary, Figures
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])


def _figures(found: Figures) -> FiguresRead:
    return FiguresRead(
        method=found.method,
        user_id=found.user_id,
        user_name=found.user_name,
        payments=found.payments,
        received=found.received,
        refunded=found.refunded,
        expected=found.expected,
    )


def summary_read(found: DaySummary) -> DaySummaryRead:
    closing = None
    if found.closing is not None:
        closing = ClosingDetail(
            **ClosingRead.model_validate(found.closing).model_dump(),
            closed_by_name=found.closed_by_name,
            lines=[ClosingLineRead.model_validate(line) for line in found.lines],
        )
    return DaySummaryRead(
        business_date=found.business_date,
        location_id=found.location_id,
        location_name=found.location_name,
        currency=found.currency,
        closed=found.closing is not None,
        expected_total=found.expected_total,
        methods=[_figures(m) for m in found.methods],
        users=[_figures(u) for u in found.users],
        closing=closing,
        history=[
            ClosingEntryRead(
                **ClosingRead.model_validate(entry.closing).model_dump(),
                closed_by_name=entry.closed_by_name,
                reopened_by_name=entry.reopened_by_name,
            )
            for entry in found.history
        ],
    )


@router.get("/days/{business_date}", response_model=DaySummaryRead)
async def day_summary(
    business_date: date,
    session: SessionDep,
    actor: BillingRead,
    location_id: Annotated[
        uuid.UUID | None, Query(description="Left out: the money taken with no location.")
    ] = None,
) -> DaySummaryRead:
    """Expected per method and per user who took the money (payments minus refunds,
    voided payments left out), and the closing once the day is closed."""
    del actor
    return summary_read(
        await day_close.day_summary(session, business_date=business_date, location_id=location_id)
    )


@router.post(
    "/days/{business_date}/close",
    response_model=DaySummaryRead,
    status_code=201,
    summary="Close a business day with the amounts counted (send Idempotency-Key)",
)
async def close_day(
    business_date: date,
    session: SessionDep,
    actor: BillingRefund,
    body: DayCloseRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """422 when cash or card is not counted or a difference has no reason; 409 when the
    day is closed already or has not come yet."""

    async def create() -> DaySummaryRead:
        closed = await day_close.close_day(
            session,
            actor=actor,
            business_date=business_date,
            location_id=body.location_id,
            counts={c.method.value: Count(c.amount, c.reason) for c in body.counted},
            note=body.note,
        )
        return summary_read(closed)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/billing/days/{business_date.isoformat()}/close",
        body=body,
        create=create,
    )


@router.post(
    "/days/{business_date}/reopen",
    response_model=DaySummaryRead,
    summary="Reopen a closed business day, with the reason (the admin)",
)
async def reopen_day(
    business_date: date, session: SessionDep, actor: DayReopen, body: DayReopenRequest
) -> DaySummaryRead:
    """The closing in force is kept, stamped reopened; the day takes money again until
    closed anew. 422 when the reason is short; 409 when the day is not closed."""
    return summary_read(
        await day_close.reopen_day(
            session,
            actor=actor,
            business_date=business_date,
            location_id=body.location_id,
            reason=body.reason,
        )
    )


@router.get("/day-closings", response_model=ClosingList)
async def list_closings(
    session: SessionDep,
    actor: BillingRead,
    location_id: uuid.UUID | None = None,
    date_from: Annotated[date | None, Query(description="Business date on or after.")] = None,
    date_to: Annotated[date | None, Query(description="Business date on or before.")] = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
) -> ClosingList:
    del actor
    found, next_cursor = await day_close.list_closings(
        session,
        location_id=location_id,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    return ClosingList(
        items=[ClosingRead.model_validate(c) for c in found], next_cursor=next_cursor
    )
