"""Lab and imaging orders: place one in an open consultation, mark the sample collected,
cancel one (with the reason), read one or a consultation's list.

An order outlives its consultation: the sample is taken and the results arrive after
the patient has gone home, so only placing needs an open consultation; the later steps
need a record the actor may change. Who may take each step is the route's permission
(``api/orders.py``): doctors order, enter results and cancel (CLINICAL_WRITE); nurses and
doctors mark a sample collected (VITALS_WRITE: a nurse draws the blood).

Every read is a read of the patient's record (audited); every change is audited in the
same transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import OrderNotFound, OrderStepRefused
from clinicdesk.clinical.kernel.order_flow import OrderKind, OrderStatus, Step, refusal
from clinicdesk.clinical.models import Order, Result
from clinicdesk.clinical.schemas.orders import OrderPlace
from clinicdesk.clinical.service import catalogue
from clinicdesk.clinical.service.encounters import get_encounter, get_open_encounter
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version, utcnow
from clinicdesk.patients import public as patients

RESOURCE = "order"


@dataclass(frozen=True, slots=True)
class OrderWithResults:
    order: Order
    results: Sequence[Result]


async def find_order(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderNotFound("No order with this id.")
    return order


async def results_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Result]]:
    found: dict[uuid.UUID, list[Result]] = defaultdict(list)
    if not order_ids:
        return found
    rows = await session.scalars(
        select(Result).where(Result.order_id.in_(order_ids)).order_by(Result.resulted_at, Result.id)
    )
    for result in rows:
        found[result.order_id].append(result)
    return found


async def _audit(
    session: AsyncSession, actor: Actor, action: str, order: Order, before: dict[str, object] | None
) -> None:
    await audit.record(
        session,
        action=action,
        actor=actor,
        resource_type=RESOURCE,
        resource_id=order.id,
        patient_id=order.patient_id,
        changes=audit.changes(before, audit.snapshot(order)),
    )


async def place_order(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID, data: OrderPlace
) -> Order:
    """Into an open consultation only (409 once it is closed). A catalogue test must be
    active; its name, kind and code are copied onto the order. Free text needs a kind."""
    encounter = await get_open_encounter(session, encounter_id, actor=actor)
    if data.catalogue_item_id is not None:
        item = await catalogue.get_catalogue_item(session, data.catalogue_item_id)
        if not item.is_active:
            raise OrderStepRefused(
                f"{item.name} is no longer offered in the catalogue; pick another test or "
                "type it as free text."
            )
        name, kind, code = item.name, OrderKind(item.kind), item.code
    else:
        name, kind, code = data.name or "", data.kind or OrderKind.LAB, data.code
    order = Order(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        kind=kind,
        catalogue_item_id=data.catalogue_item_id,
        name=name,
        code=code,
        priority=data.priority,
        clinical_note=data.clinical_note,
        status=OrderStatus.ORDERED,
        ordered_by_id=actor.user_id,
        ordered_at=utcnow(),
    )
    session.add(order)
    await session.flush()
    await _audit(session, actor, "order.placed", order, None)
    return order


async def orders_to_bill(session: AsyncSession, encounter_id: uuid.UUID) -> Sequence[Order]:
    """The consultation's orders that were not cancelled, oldest first: what billing
    turns into invoice lines when the consultation finishes (no read is recorded: the
    caller is the system drafting the invoice, not a person shown the orders)."""
    statement = (
        select(Order)
        .where(Order.encounter_id == encounter_id, Order.status != OrderStatus.CANCELLED)
        .order_by(Order.ordered_at, Order.id)
    )
    return (await session.scalars(statement)).all()


async def get_order(
    session: AsyncSession, order_id: uuid.UUID, *, actor: Actor
) -> OrderWithResults:
    """The order with its results, on a record open to ``actor`` (the read is recorded)."""
    order = await find_order(session, order_id)
    await patients.get_patient(session, order.patient_id, actor=actor)
    await audit.record_read(
        session,
        actor=actor,
        patient_id=order.patient_id,
        view="order",
        resource_type=RESOURCE,
        resource_id=order.id,
    )
    found = await results_of(session, [order.id])
    return OrderWithResults(order, found.get(order.id, []))


async def list_for_encounter(
    session: AsyncSession, *, actor: Actor, encounter_id: uuid.UUID
) -> list[OrderWithResults]:
    """The consultation's orders, oldest first, each with its results."""
    encounter = await get_encounter(session, encounter_id, actor=actor)
    orders = list(
        await session.scalars(
            select(Order)
            .where(Order.encounter_id == encounter.id)
            .order_by(Order.ordered_at, Order.id)
            .limit(200)
        )
    )
    found = await results_of(session, [o.id for o in orders])
    return [OrderWithResults(o, found.get(o.id, [])) for o in orders]


async def writable_order(
    session: AsyncSession, order_id: uuid.UUID, *, actor: Actor, expected_version: int | None
) -> Order:
    """The order to change: on a record the actor may change, at the version they read."""
    order = await find_order(session, order_id)
    await patients.get_writable_patient(session, order.patient_id, actor=actor)
    check_version(order, expected_version)
    return order


def check_step(order: Order, step: Step) -> None:
    why = refusal(step, order.status)
    if why is not None:
        raise OrderStepRefused(why)


async def mark_collected(
    session: AsyncSession, *, actor: Actor, order_id: uuid.UUID, expected_version: int | None
) -> Order:
    """The sample was taken: only an order still "ordered"."""
    order = await writable_order(session, order_id, actor=actor, expected_version=expected_version)
    check_step(order, Step.COLLECT)
    before = audit.snapshot(order)
    order.status = OrderStatus.COLLECTED
    order.collected_at = utcnow()
    order.collected_by_id = actor.user_id
    await session.flush()
    await _audit(session, actor, "order.collected", order, before)
    return order


async def cancel_order(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> Order:
    """Before any result is in; the order stays on the record, cancelled, with why."""
    order = await writable_order(session, order_id, actor=actor, expected_version=expected_version)
    check_step(order, Step.CANCEL)
    before = audit.snapshot(order)
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = utcnow()
    order.cancel_reason = reason
    await session.flush()
    await _audit(session, actor, "order.cancelled", order, before)
    return order
