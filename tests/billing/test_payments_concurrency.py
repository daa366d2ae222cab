"""Parallel payments on one invoice, on both databases, each in its own session and
transaction as twenty desks would: never more is allocated than the invoice owes, the
rest is the patient's credit, and the books balance. Parallel credit applications never
spend more credit than there is; parallel retries with one idempotency key take the
money once."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from clinicdesk.billing.errors import AllocationRefused
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.payment_models import Payment, PaymentAllocation
from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate
from clinicdesk.billing.schemas import InvoiceCreate, LineAdd
from clinicdesk.billing.service import credit, invoices, issuing, payments
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from tests.support.patients import register_patient

DESKS = 20


async def _clinic(db: Database) -> uuid.UUID:
    async with session_scope(db) as session:
        return (await organizations.create_organization(session, name="Busy Desk")).id


async def _patient_owing(
    db: Database, org_id: uuid.UUID, *totals: int
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A new patient with issued invoices of these totals."""
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        patient = await register_patient(session)
        ids = []
        for total in totals:
            made = await invoices.create_draft(
                session,
                actor=SYSTEM,
                data=InvoiceCreate(
                    patient_id=patient.id, lines=[LineAdd(name="Visit", unit_price=total)]
                ),
            )
            await issuing.issue(
                session, actor=SYSTEM, invoice_id=made.invoice.id, expected_version=None
            )
            ids.append(made.invoice.id)
        return patient.id, ids


async def _pay(db: Database, org_id: uuid.UUID, data: PaymentCreate) -> uuid.UUID:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        made = await payments.record_payment(session, actor=SYSTEM, data=data)
        return made.payment.id


async def _apply(db: Database, org_id: uuid.UUID, invoice_id: uuid.UUID) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        _, made = await credit.apply_credit(
            session, actor=SYSTEM, invoice_id=invoice_id, amount=None
        )
        return sum(a.amount for a in made)


async def _gateway(db: Database, org_id: uuid.UUID, data: PaymentCreate, key: str) -> uuid.UUID:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        made = await payments.record_gateway_payment(
            session, actor=SYSTEM, data=data, idempotency_key=key
        )
        return made.payment.id


async def _books(
    db: Database, org_id: uuid.UUID, patient_id: uuid.UUID
) -> tuple[list[Invoice], list[Payment], int]:
    """The patient's invoices and payments and their credit, after checking that the
    books balance (each invoice's amount_due from its allocation rows)."""
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        figures = await credit.balance(session, actor=SYSTEM, patient_id=patient_id)
        assert figures.balance == figures.owed - figures.credit_available, figures
        assert figures.balance == figures.invoiced - figures.credited - figures.paid, figures
        found = list(
            await session.scalars(
                select(Invoice).where(Invoice.patient_id == patient_id).order_by(Invoice.id)
            )
        )
        for invoice in found:
            paid = await session.scalar(
                select(func.sum(PaymentAllocation.amount)).where(
                    PaymentAllocation.invoice_id == invoice.id
                )
            )
            assert invoice.amount_paid == int(paid or 0)
            assert invoice.amount_due == invoice.total - invoice.amount_paid
            assert invoice.amount_due >= 0
        paid_in = list(
            await session.scalars(select(Payment).where(Payment.patient_id == patient_id))
        )
        return found, paid_in, figures.credit_available


def cash(patient_id: uuid.UUID, amount: int, **more: object) -> PaymentCreate:
    return PaymentCreate.model_validate(
        {"patient_id": patient_id, "method": PaymentMethod.CASH, "amount": amount, **more}
    )


async def test_twenty_parallel_payments_on_one_invoice(migrated_database_url: str) -> None:
    db = create_database(migrated_database_url, pool_size=DESKS, sqlite_busy_timeout_ms=120_000)
    try:
        await migrations.upgrade(db)
        org_id = await _clinic(db)

        # Oldest first, 70 each on 1000: 14 pay 70, one pays 20, the rest is credit.
        ann, (invoice_id,) = await _patient_owing(db, org_id, 1000)
        outcomes = await asyncio.gather(
            *(_pay(db, org_id, cash(ann, 70)) for _ in range(DESKS)), return_exceptions=True
        )
        assert all(isinstance(o, uuid.UUID) for o in outcomes), outcomes
        (invoice,), paid_in, credit_left = await _books(db, org_id, ann)
        assert (invoice.amount_paid, invoice.amount_due) == (1000, 0)
        assert sorted(p.allocated for p in paid_in) == [0] * 5 + [20] + [70] * 14
        assert credit_left == DESKS * 70 - 1000

        # Explicit, 100 each to an invoice of 1000: exactly ten go through.
        ben, (invoice_id,) = await _patient_owing(db, org_id, 1000)
        wanted = [AllocationWanted(invoice_id=invoice_id, amount=100)]
        outcomes = await asyncio.gather(
            *(_pay(db, org_id, cash(ben, 100, allocations=wanted)) for _ in range(DESKS)),
            return_exceptions=True,
        )
        taken = [o for o in outcomes if isinstance(o, uuid.UUID)]
        refused = [o for o in outcomes if not isinstance(o, uuid.UUID)]
        assert len(taken) == 10
        assert all(isinstance(o, AllocationRefused) for o in refused), refused
        (invoice,), paid_in, credit_left = await _books(db, org_id, ben)
        assert (invoice.amount_paid, invoice.amount_due, credit_left) == (1000, 0, 0)
        assert len(paid_in) == 10  # the refused payments left nothing behind

        # Credit of 400 applied by ten desks at once to two invoices of 300: 400 is spent.
        cy, ids = await _patient_owing(db, org_id, 300, 300)
        await _pay(db, org_id, cash(cy, 400, allocations=[]))
        tried = await asyncio.gather(
            *(_apply(db, org_id, ids[n % 2]) for n in range(10)), return_exceptions=True
        )
        applied = [o for o in tried if isinstance(o, int)]
        assert sum(applied) == 400, tried
        assert all(isinstance(o, AllocationRefused) for o in tried if not isinstance(o, int)), tried
        found, _, credit_left = await _books(db, org_id, cy)
        assert sum(i.amount_paid for i in found) == 400 and credit_left == 0

        # One gateway event delivered five times at once: one payment.
        key = f"evt_{uuid.uuid4().hex}"
        outcomes = await asyncio.gather(
            *(_gateway(db, org_id, cash(cy, 250), key) for _ in range(5)), return_exceptions=True
        )
        assert len(set(outcomes)) == 1 and isinstance(outcomes[0], uuid.UUID), outcomes
        _, paid_in, _ = await _books(db, org_id, cy)
        assert sorted(p.amount for p in paid_in) == [250, 400]
    finally:
        await db.dispose()
