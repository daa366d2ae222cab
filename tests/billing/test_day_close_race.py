"""A payment racing a day's close, on both databases, each in its own session and
transaction as at two desks: the payment is either in the closing's figures or refused
(``DayClosed``), never committed into a closed day uncounted.

Two orders are forced (a payment not yet committed when the close starts: the close waits
and counts it; a close not yet committed when the payment starts: the payment waits and
is refused), then a payment storm around one close checks the books."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy import func, select

from clinicdesk.billing.day_close_models import DayClosing
from clinicdesk.billing.errors import DayClosed
from clinicdesk.billing.payment_models import Payment
from clinicdesk.billing.payment_schemas import PaymentCreate
from clinicdesk.billing.service import day_close, payments
from clinicdesk.billing.service.common import books
from clinicdesk.billing.vocabulary import PaymentMethod, PaymentStatus
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from tests.support.patients import register_patient

DESKS = 12
# Long enough for a blocked transaction to show it is blocked on a slow machine.
WAIT = 0.5


async def _clinic(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    async with session_scope(db) as session:
        organization = await organizations.create_organization(session, name="Racing Desk")
        await scope_to_tenant(session, organization.id)
        location = await organizations.create_location(
            session, actor=SYSTEM, data=LocationWrite(name="Front")
        )
        patient = await register_patient(session)
        return organization.id, location.id, patient.id


def other(patient_id: uuid.UUID, location_id: uuid.UUID, amount: int) -> PaymentCreate:
    # "other" counts as the system says, so the close needs no count typed.
    return PaymentCreate(
        patient_id=patient_id,
        method=PaymentMethod.OTHER,
        amount=amount,
        location_id=location_id,
        allocations=[],
    )


async def _today(db: Database, org_id: uuid.UUID) -> date:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        return (await books(session)).today()


async def _pay(db: Database, org_id: uuid.UUID, data: PaymentCreate) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        await payments.record_payment(session, actor=SYSTEM, data=data)
        return data.amount


async def _close(db: Database, org_id: uuid.UUID, day: date, location_id: uuid.UUID) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        closed = await day_close.close_day(
            session, actor=SYSTEM, business_date=day, location_id=location_id, counts={}
        )
        assert closed.closing is not None
        return closed.closing.expected_total


async def _taken(db: Database, org_id: uuid.UUID, location_id: uuid.UUID) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        total = await session.scalar(
            select(func.sum(Payment.amount)).where(
                Payment.location_id == location_id, Payment.status == PaymentStatus.RECORDED
            )
        )
        return int(total or 0)


async def test_a_payment_racing_a_close_is_counted_or_refused(migrated_database_url: str) -> None:
    db = create_database(migrated_database_url, pool_size=DESKS + 2, sqlite_busy_timeout_ms=60_000)
    try:
        await migrations.upgrade(db)
        org_id, location_id, patient_id = await _clinic(db)
        day = await _today(db, org_id)

        # 1. A payment in flight when the close starts: the close waits for it, counts it.
        async with session_scope(db) as paying:
            await scope_to_tenant(paying, org_id)
            await payments.record_payment(
                paying, actor=SYSTEM, data=other(patient_id, location_id, 700)
            )
            closing = asyncio.create_task(_close(db, org_id, day, location_id))
            await asyncio.sleep(WAIT)
            assert not closing.done(), "the close did not wait for the payment in flight"
        assert await closing == 700

        # 2. A close in flight when a payment starts: the payment waits, then is refused.
        org_b, location_b, patient_b = await _clinic(db)
        async with session_scope(db) as closing_session:
            await scope_to_tenant(closing_session, org_b)
            await day_close.close_day(
                closing_session, actor=SYSTEM, business_date=day, location_id=location_b, counts={}
            )
            paying_task = asyncio.create_task(_pay(db, org_b, other(patient_b, location_b, 300)))
            await asyncio.sleep(WAIT)
            assert not paying_task.done(), "the payment did not wait for the close in flight"
        outcome = await asyncio.gather(paying_task, return_exceptions=True)
        assert isinstance(outcome[0], DayClosed), outcome
        assert await _taken(db, org_b, location_b) == 0

        # 3. A storm of payments around one close: the closing holds exactly those that
        # went through; the others were refused.
        org_c, location_c, patient_c = await _clinic(db)
        amounts = [100 + n for n in range(DESKS)]
        half = DESKS // 2
        work = [_pay(db, org_c, other(patient_c, location_c, a)) for a in amounts[:half]]
        work.append(_close(db, org_c, day, location_c))
        work += [_pay(db, org_c, other(patient_c, location_c, a)) for a in amounts[half:]]
        outcomes = await asyncio.gather(*work, return_exceptions=True)
        closed_total = outcomes[half]
        assert isinstance(closed_total, int), outcomes
        paid = [o for i, o in enumerate(outcomes) if i != half and isinstance(o, int)]
        refused = [o for i, o in enumerate(outcomes) if i != half and not isinstance(o, int)]
        assert all(isinstance(o, DayClosed) for o in refused), refused
        assert len(paid) + len(refused) == DESKS
        assert sum(paid) == closed_total == await _taken(db, org_c, location_c)
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_c)
            found = (await session.scalars(select(DayClosing))).all()
            assert [c.expected_total for c in found] == [closed_total]
    finally:
        await db.dispose()
