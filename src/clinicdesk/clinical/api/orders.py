"""JSON API of orders and results: place an order in a consultation, mark it collected,
enter its results, cancel it; sign results off; the doctor's inbox; a patient's results
(one analyte's series with ``?analyte=``)."""

from __future__ import annotations

import uuid

from fastapi import Query, Response
from fastapi.responses import JSONResponse

from clinicdesk.clinical.access import ClinicalRead, ClinicalWrite, VitalsWrite
from clinicdesk.clinical.models import Order
from clinicdesk.clinical.schemas.orders import (
    Inbox,
    InboxItem,
    OrderCancel,
    OrderDetail,
    OrderList,
    OrderPlace,
    ResultRead,
    ResultReview,
    ResultsEntry,
    ResultSeries,
)
from clinicdesk.clinical.service import orders, results
from clinicdesk.clinical.service.orders import OrderWithResults
from clinicdesk.core.http import IfMatch, with_etag
from clinicdesk.core.idempotency import IdempotencyKey, created_once
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["orders"])


def detail(found: OrderWithResults) -> OrderDetail:
    return OrderDetail.model_validate(
        {
            **OrderDetail.model_validate(found.order).model_dump(exclude={"results"}),
            "results": [ResultRead.model_validate(r) for r in found.results],
        }
    )


def _answer(response: Response, order: Order, found: OrderWithResults | None = None) -> OrderDetail:
    with_etag(response, order.version)
    return detail(found or OrderWithResults(order, []))


@router.get("/encounters/{encounter_id}/orders", response_model=OrderList)
async def list_encounter_orders(
    encounter_id: uuid.UUID, session: SessionDep, actor: ClinicalRead
) -> OrderList:
    """The consultation's orders, oldest first, each with its results."""
    found = await orders.list_for_encounter(session, actor=actor, encounter_id=encounter_id)
    return OrderList(items=[detail(f) for f in found])


@router.post(
    "/encounters/{encounter_id}/orders",
    response_model=OrderDetail,
    status_code=201,
    summary="Place a lab or imaging order (send Idempotency-Key to retry safely)",
)
async def place_order(
    encounter_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: OrderPlace,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Into an open consultation (409 once it is closed): a catalogue test
    (``catalogue_item_id``) or free text (``name`` and ``kind``)."""

    async def create() -> OrderDetail:
        order = await orders.place_order(session, actor=actor, encounter_id=encounter_id, data=body)
        return detail(OrderWithResults(order, []))

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/encounters/{encounter_id}/orders",
        body=body,
        create=create,
    )


@router.get("/orders/{order_id}", response_model=OrderDetail)
async def read_order(
    order_id: uuid.UUID, response: Response, session: SessionDep, actor: ClinicalRead
) -> OrderDetail:
    found = await orders.get_order(session, order_id, actor=actor)
    return _answer(response, found.order, found)


@router.post("/orders/{order_id}/collected", response_model=OrderDetail)
async def mark_collected(
    order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: VitalsWrite,
    if_match: IfMatch,
) -> OrderDetail:
    """The sample was taken (nurses and doctors); 409 unless the order is "ordered"."""
    order = await orders.mark_collected(
        session, actor=actor, order_id=order_id, expected_version=if_match
    )
    return _answer(response, order)


@router.post(
    "/orders/{order_id}/results",
    response_model=OrderDetail,
    status_code=201,
    summary="Enter results (send Idempotency-Key to retry safely)",
)
async def enter_results(
    order_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalWrite,
    body: ResultsEntry,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """One or more results (a panel); each is flagged against the lab's range given, or
    the catalogue's range for the patient's sex and age. 409 on a cancelled order."""

    async def create() -> OrderDetail:
        found = await results.enter_results(
            session, actor=actor, order_id=order_id, data=body, expected_version=if_match
        )
        return detail(found)

    return await created_once(
        session,
        key=idempotency_key,
        user_id=actor.user_id,
        operation=f"POST /api/v1/orders/{order_id}/results",
        body=body,
        create=create,
    )


@router.post("/orders/{order_id}/cancel", response_model=OrderDetail)
async def cancel_order(
    order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: OrderCancel,
    if_match: IfMatch,
) -> OrderDetail:
    """Before any result is in (409 after); the order stays on the record."""
    order = await orders.cancel_order(
        session,
        actor=actor,
        order_id=order_id,
        reason=body.reason or "",
        expected_version=if_match,
    )
    return _answer(response, order)


@router.post("/results/{result_id}/review", response_model=ResultRead)
async def review_result(
    result_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ClinicalWrite,
    body: ResultReview,
    if_match: IfMatch,
) -> ResultRead:
    """Sign the result off (once); the order is "reviewed" when all of its are."""
    result = await results.review_result(
        session, actor=actor, result_id=result_id, comment=body.comment, expected_version=if_match
    )
    with_etag(response, result.version)
    return ResultRead.model_validate(result)


@router.get("/results/inbox", response_model=Inbox)
async def results_inbox(session: SessionDep, actor: ClinicalWrite) -> Inbox:
    """The signed-in doctor's results still to sign off: critical, then abnormal, then
    the rest, the longest waiting first; 50 at most."""
    found = await results.results_to_review(session, actor=actor)
    return Inbox(
        items=[
            InboxItem(
                result=ResultRead.model_validate(e.result),
                order_name=e.order.name,
                patient_id=e.patient.id,
                patient_name=e.patient.display_name,
            )
            for e in found
        ]
    )


@router.get("/patients/{patient_id}/results", response_model=ResultSeries)
async def patient_results(
    patient_id: uuid.UUID,
    session: SessionDep,
    actor: ClinicalRead,
    analyte: str | None = Query(
        default=None, max_length=120, description="One analyte's series, by name or code."
    ),
) -> ResultSeries:
    found = await results.patient_results(
        session, actor=actor, patient_id=patient_id, analyte=analyte
    )
    return ResultSeries(items=[ResultRead.model_validate(r) for r in found])
