"""JSON API of the fee schedule: list (in force on a day, or one code's price history),
add an item, add a new price version, end an item; and the number formats."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from clinicdesk.billing.access import BillingRead, BillingWrite
from clinicdesk.billing.schemas import (
    FeeItemCreate,
    FeeItemDeactivate,
    FeeItemList,
    FeeItemRead,
    FeePriceVersion,
    NumberFormats,
    NumberFormatsRead,
)
from clinicdesk.billing.service import fee_schedule, issuing
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["billing"])


@router.get("/fee-schedule", response_model=FeeItemList)
async def list_fee_schedule(
    session: SessionDep,
    actor: BillingRead,
    on: Annotated[date | None, Query(description="Prices in force on this day (today).")] = None,
    code: str | None = Query(default=None, max_length=40, description="One code's history."),
) -> FeeItemList:
    found = await fee_schedule.list_fee_items(session, on=on, code=code)
    return FeeItemList(items=[FeeItemRead.model_validate(i) for i in found])


@router.post(
    "/fee-schedule",
    response_model=FeeItemRead,
    status_code=201,
    summary="Add a service or item (send Idempotency-Key to retry safely)",
)
async def create_fee_item(
    session: SessionDep,
    actor: BillingWrite,
    body: FeeItemCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """``unit_price`` in minor units of the organization's currency; 409 on a code
    already in the schedule."""

    async def create() -> FeeItemRead:
        item = await fee_schedule.create_fee_item(session, actor=actor, data=body)
        return FeeItemRead.model_validate(item)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation="POST /api/v1/fee-schedule",
        body=body,
        create=create,
    )


@router.get("/fee-schedule/{item_id}", response_model=FeeItemRead)
async def read_fee_item(
    item_id: uuid.UUID, response: Response, session: SessionDep, actor: BillingRead
) -> FeeItemRead:
    item = await fee_schedule.get_fee_item(session, item_id)
    with_etag(response, item.version)
    return FeeItemRead.model_validate(item)


@router.post(
    "/fee-schedule/{item_id}/versions",
    response_model=FeeItemRead,
    status_code=201,
    summary="A new price from a day on (send Idempotency-Key to retry safely)",
)
async def add_price_version(
    item_id: uuid.UUID,
    session: SessionDep,
    actor: BillingWrite,
    body: FeePriceVersion,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The version named ends the day before ``active_from``; invoices keep the price
    they copied."""

    async def create() -> FeeItemRead:
        item = await fee_schedule.add_price_version(
            session, actor=actor, item_id=item_id, data=body, expected_version=if_match
        )
        return FeeItemRead.model_validate(item)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/fee-schedule/{item_id}/versions",
        body=body,
        create=create,
    )


@router.post("/fee-schedule/{item_id}/deactivate", response_model=FeeItemRead)
async def deactivate_fee_item(
    item_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: FeeItemDeactivate,
    if_match: IfMatch,
) -> FeeItemRead:
    item = await fee_schedule.deactivate(
        session, actor=actor, item_id=item_id, active_to=body.active_to, expected_version=if_match
    )
    with_etag(response, item.version)
    return FeeItemRead.model_validate(item)


@router.get("/billing/number-formats", response_model=NumberFormatsRead)
async def read_number_formats(
    response: Response, session: SessionDep, actor: BillingRead
) -> NumberFormatsRead:
    formats = await issuing.read_number_formats(session)
    with_etag(response, formats.version)
    return formats


@router.put("/billing/number-formats", response_model=NumberFormatsRead)
async def change_number_formats(
    response: Response,
    session: SessionDep,
    actor: BillingWrite,
    body: NumberFormats,
    if_match: IfMatch,
) -> NumberFormatsRead:
    """Formats of the next numbers, with ``{year}`` and ``{seq}`` (such as
    ``INV-{year}-{seq:06d}``); the sequence goes on unchanged."""
    settings = await issuing.set_number_formats(
        session, actor=actor, data=body, expected_version=if_match
    )
    with_etag(response, settings.version)
    return NumberFormatsRead.model_validate(settings)
