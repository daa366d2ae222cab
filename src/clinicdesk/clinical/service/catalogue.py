"""The organization's catalogue of tests: what the order form offers, with each test's
default unit and reference ranges. Reference data of the clinic, no patient's: changes
are audited, reads are not."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.audit import public as audit
from clinicdesk.clinical.errors import CatalogueItemNotFound, CatalogueNameTaken
from clinicdesk.clinical.kernel.result_flags import Limits, RangeBand
from clinicdesk.clinical.models import TestCatalogueItem
from clinicdesk.clinical.schemas.orders import CatalogueItemWrite
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import check_version

RESOURCE = "test"


async def list_catalogue(
    session: AsyncSession, *, active_only: bool = True
) -> Sequence[TestCatalogueItem]:
    statement = select(TestCatalogueItem).order_by(func.lower(TestCatalogueItem.name))
    if active_only:
        statement = statement.where(TestCatalogueItem.is_active.is_(True))
    return (await session.scalars(statement.limit(500))).all()


async def get_catalogue_item(session: AsyncSession, item_id: uuid.UUID) -> TestCatalogueItem:
    item = await session.get(TestCatalogueItem, item_id)
    if item is None:
        raise CatalogueItemNotFound("No test with this id in the catalogue.")
    return item


async def _check_name_free(
    session: AsyncSession, name: str, *, other_than: uuid.UUID | None = None
) -> None:
    statement = select(TestCatalogueItem.id).where(
        func.lower(TestCatalogueItem.name) == name.lower()
    )
    if other_than is not None:
        statement = statement.where(TestCatalogueItem.id != other_than)
    if await session.scalar(statement) is not None:
        raise CatalogueNameTaken(f"The catalogue already has a test named {name!r}.")


def _fill(item: TestCatalogueItem, data: CatalogueItemWrite) -> None:
    item.name = data.name or ""
    item.kind = data.kind
    item.code = data.code
    item.default_unit = data.default_unit
    item.ranges = [band.model_dump(mode="json", exclude_none=True) for band in data.ranges]
    item.reference_text = data.reference_text
    item.notes = data.notes
    item.is_active = data.is_active


async def create_catalogue_item(
    session: AsyncSession, *, actor: Actor, data: CatalogueItemWrite
) -> TestCatalogueItem:
    """Names are unique in the organization (whatever their case)."""
    await _check_name_free(session, data.name or "")
    item = TestCatalogueItem()
    _fill(item, data)
    session.add(item)
    await session.flush()
    await audit.record(
        session,
        action="test.created",
        actor=actor,
        resource_type=RESOURCE,
        resource_id=item.id,
        changes=audit.changes(None, audit.snapshot(item)),
    )
    return item


async def update_catalogue_item(
    session: AsyncSession,
    *,
    actor: Actor,
    item_id: uuid.UUID,
    data: CatalogueItemWrite,
    expected_version: int | None,
) -> TestCatalogueItem:
    """Orders already placed keep the name and code they were placed with; a test taken
    off (inactive) leaves the order form, not the records."""
    item = await get_catalogue_item(session, item_id)
    check_version(item, expected_version)
    await _check_name_free(session, data.name or "", other_than=item.id)
    before = audit.snapshot(item)
    _fill(item, data)
    await session.flush()
    diff = audit.changes(before, audit.snapshot(item))
    if diff:
        await audit.record(
            session,
            action="test.updated",
            actor=actor,
            resource_type=RESOURCE,
            resource_id=item.id,
            changes=diff,
        )
    return item


def bands_of(item: TestCatalogueItem) -> list[RangeBand]:
    """The stored ranges as the kernel's bands (they were checked on the way in)."""

    def number(value: object) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        RangeBand(
            limits=Limits(
                low=number(raw.get("low")),
                high=number(raw.get("high")),
                critical_low=number(raw.get("critical_low")),
                critical_high=number(raw.get("critical_high")),
            ),
            sex=raw.get("sex"),
            age_from=raw.get("age_from"),
            age_to=raw.get("age_to"),
        )
        for raw in item.ranges or []
    ]
