"""The fee schedule: the organization's services and items with their prices.

A price change never rewrites a row that an invoice may have copied: it adds a version
(a row with the same code, from a later day) and ends the current one the day before.
Reference data of the clinic, no patient's: changes are audited, reads are not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.billing.errors import FeeCodeTaken, FeeItemNotFound, FeeStepRefused
from clinicdesk.billing.models import FeeItem
from clinicdesk.billing.schemas import FeeItemCreate, FeePriceVersion, TaxRate
from clinicdesk.billing.service.common import audit_change, books
from clinicdesk.clinical import public as clinical
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version
from clinicdesk.scheduling import public as scheduling

RESOURCE = "fee_item"


def _rates(rates: Sequence[TaxRate]) -> list[dict[str, str]]:
    return [{"name": r.name, "rate": str(r.rate)} for r in rates]


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    item: FeeItem,
    before: dict[str, object] | None,
) -> None:
    await audit_change(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        record=item,
        patient_id=None,
        before=before,
    )


def active_on(day: date) -> ColumnElement[bool]:
    """The condition "this version is the price on ``day``"."""
    return (FeeItem.active_from <= day) & (
        or_(FeeItem.active_to.is_(None), FeeItem.active_to >= day)
    )


async def get_fee_item(session: AsyncSession, item_id: uuid.UUID) -> FeeItem:
    item = await session.get(FeeItem, item_id)
    if item is None:
        raise FeeItemNotFound("No fee item with this id in your fee schedule.")
    return item


async def list_fee_items(
    session: AsyncSession, *, on: date | None = None, code: str | None = None
) -> Sequence[FeeItem]:
    """The versions in force on ``on`` (today when not given), or every version of
    ``code`` (its price history) when a code is given."""
    statement = select(FeeItem).order_by(func.lower(FeeItem.code), FeeItem.active_from)
    if code is not None:
        statement = statement.where(FeeItem.code == code)
    else:
        statement = statement.where(active_on(on or (await books(session)).today()))
    return (await session.scalars(statement.limit(1000))).all()


async def price_of(
    session: AsyncSession,
    *,
    day: date,
    appointment_type_id: uuid.UUID | None = None,
    catalogue_item_id: uuid.UUID | None = None,
) -> FeeItem | None:
    """The fee in force on ``day`` linked to an appointment type or a catalogue test."""
    statement = select(FeeItem).where(active_on(day))
    if appointment_type_id is not None:
        statement = statement.where(FeeItem.appointment_type_id == appointment_type_id)
    elif catalogue_item_id is not None:
        statement = statement.where(FeeItem.catalogue_item_id == catalogue_item_id)
    else:
        return None
    return (await session.scalars(statement.order_by(FeeItem.active_from.desc()))).first()


async def _check_links(session: AsyncSession, data: FeeItemCreate) -> None:
    if data.appointment_type_id is not None:
        await scheduling.get_type(session, data.appointment_type_id)
    if data.catalogue_item_id is not None:
        await clinical.get_catalogue_item(session, data.catalogue_item_id)


async def create_fee_item(session: AsyncSession, *, actor: Actor, data: FeeItemCreate) -> FeeItem:
    """A new code; refused when the code is already in the schedule (a new price of it
    is a new version)."""
    ledger = await books(session)
    taken = await session.scalar(select(FeeItem.id).where(FeeItem.code == data.code).limit(1))
    if taken is not None:
        raise FeeCodeTaken(
            f"The fee schedule already has code {data.code!r}; add a new price version "
            "of it instead (POST /api/v1/fee-schedule/{id}/versions)."
        )
    await _check_links(session, data)
    item = FeeItem(
        code=data.code,
        billing_code=data.billing_code,
        name=data.name,
        unit_price=data.unit_price,
        currency=ledger.currency,
        tax_rates=_rates(data.tax_rates),
        active_from=data.active_from or ledger.today(),
        appointment_type_id=data.appointment_type_id,
        catalogue_item_id=data.catalogue_item_id,
    )
    session.add(item)
    await session.flush()
    await _audit(session, actor, "fee_item.created", item, None)
    return item


async def add_price_version(
    session: AsyncSession,
    *,
    actor: Actor,
    item_id: uuid.UUID,
    data: FeePriceVersion,
    expected_version: int | None,
) -> FeeItem:
    """A new price from ``active_from`` (after the current version starts); the current
    version ends the day before. Invoices that copied the old price keep it."""
    current = await get_fee_item(session, item_id)
    check_version(current, expected_version)
    ledger = await books(session)
    later = await session.scalar(
        select(FeeItem.id).where(
            FeeItem.code == current.code, FeeItem.active_from > current.active_from
        )
    )
    if later is not None:
        raise FeeStepRefused(
            "This is not the latest version of the item; add the new price to the latest."
        )
    starts = data.active_from or ledger.today()
    if starts <= current.active_from:
        raise FeeStepRefused(
            f"The new price must start after {current.active_from.isoformat()}, the day the "
            "current one started."
        )
    before = audit.snapshot(current)
    if current.active_to is None or current.active_to >= starts:
        current.active_to = starts - timedelta(days=1)
    version = FeeItem(
        code=current.code,
        billing_code=current.billing_code,
        name=data.name or current.name,
        unit_price=data.unit_price,
        currency=ledger.currency,
        tax_rates=_rates(data.tax_rates) if data.tax_rates is not None else current.tax_rates,
        active_from=starts,
        appointment_type_id=current.appointment_type_id,
        catalogue_item_id=current.catalogue_item_id,
        previous_id=current.id,
    )
    session.add(version)
    await session.flush()
    await _audit(session, actor, "fee_item.ended", current, before)
    await _audit(session, actor, "fee_item.repriced", version, None)
    return version


async def deactivate(
    session: AsyncSession,
    *,
    actor: Actor,
    item_id: uuid.UUID,
    active_to: date | None,
    expected_version: int | None,
) -> FeeItem:
    """No longer offered after ``active_to`` (today when not given)."""
    item = await get_fee_item(session, item_id)
    check_version(item, expected_version)
    last_day = active_to or (await books(session)).today()
    if last_day < item.active_from:
        raise FeeStepRefused(
            f"The last day cannot be before {item.active_from.isoformat()}, when this "
            "version started."
        )
    before = audit.snapshot(item)
    item.active_to = last_day
    await session.flush()
    await _audit(session, actor, "fee_item.deactivated", item, before)
    return item
