"""The money invariant under random sequences, on SQLite and PostgreSQL.

A hypothesis state machine drives the billing services as desks would, each step in its
own transaction (issue an invoice, a credit note, pay with allocations, pay more than is
owed, apply credit, refund, void; refused steps included), and after every step checks,
from the rows themselves:

* every patient's balance equals issued invoices - credit notes - payments + refunds,
  equals what a plain model of the same steps expects, and equals owed - credit;
* every invoice's ``amount_due = total - credited_total - its allocations`` (never < 0);
* every payment's ``allocated`` / ``refunded`` are the sums of its rows, its
  unallocated part is never < 0, and a voided payment holds nothing.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from clinicdesk.billing.errors import (
    AllocationRefused,
    CreditRefused,
    PaymentInvalid,
    RefundRefused,
    VoidRefused,
)
from clinicdesk.billing.models import CreditNote, Invoice, InvoiceLine
from clinicdesk.billing.payment_models import Payment, PaymentAllocation, Refund
from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate, RefundCreate
from clinicdesk.billing.schemas import CreditLine, CreditNoteCreate, InvoiceCreate, LineAdd
from clinicdesk.billing.service import credit, invoices, issuing, payments, refunds
from clinicdesk.billing.vocabulary import PaymentMethod, PaymentStatus
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from tests.support.patients import register_patient

T = TypeVar("T")
REFUSED = (AllocationRefused, CreditRefused, PaymentInvalid, RefundRefused, VoidRefused)
amounts = st.integers(min_value=1, max_value=20_000)
picks = st.integers(min_value=0, max_value=10_000)


class Ledger(RuleBasedStateMachine):
    """One organization for the whole run; two new patients per example."""

    loop: asyncio.AbstractEventLoop
    db: Database
    org_id: uuid.UUID
    done: collections.Counter[str]  # steps that went through, over the whole run

    def __init__(self) -> None:
        super().__init__()
        self.patients: list[uuid.UUID] = []
        self.invoices: list[tuple[uuid.UUID, uuid.UUID]] = []  # (invoice, its patient)
        self.payments: list[uuid.UUID] = []
        self.expected: dict[uuid.UUID, int] = {}  # the plain model's balance

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    async def _in_tenant(self, use: Any) -> Any:
        async with session_scope(self.db) as session:
            await scope_to_tenant(session, self.org_id)
            return await use(session)

    def step(self, use: Any) -> Any:
        """``use(session)`` in its own transaction; a refusal rolls it back."""
        try:
            found = self.run(self._in_tenant(use))
        except REFUSED:
            self.done["refused"] += 1
            self.done["refused " + use.__qualname__.split(".")[1]] += 1
            return None
        self.done[use.__qualname__.split(".")[1]] += 1
        return found

    @initialize()
    def two_patients(self) -> None:
        for _ in range(2):

            async def made(session: Any) -> uuid.UUID:
                return (await register_patient(session)).id

            patient_id = self.run(self._in_tenant(made))
            self.patients.append(patient_id)
            self.expected[patient_id] = 0

    # --- steps ---------------------------------------------------------------------------

    @rule(who=picks, amount=amounts)
    def issue_invoice(self, who: int, amount: int) -> None:
        patient_id = self.patients[who % 2]

        async def use(session: Any) -> tuple[uuid.UUID, int]:
            made = await invoices.create_draft(
                session,
                actor=SYSTEM,
                data=InvoiceCreate(
                    patient_id=patient_id, lines=[LineAdd(name="Visit", unit_price=amount)]
                ),
            )
            issued = await issuing.issue(
                session, actor=SYSTEM, invoice_id=made.invoice.id, expected_version=None
            )
            return issued.invoice.id, issued.invoice.total

        invoice_id, total = self.step(use)
        self.invoices.append((invoice_id, patient_id))
        self.expected[patient_id] += total

    @precondition(lambda self: self.invoices)
    @rule(which=picks, amount=amounts)
    def credit_note(self, which: int, amount: int) -> None:
        invoice_id, patient_id = self.invoices[which % len(self.invoices)]

        async def use(session: Any) -> int:
            line = (
                await session.scalars(
                    select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                )
            ).one()
            note = await issuing.credit(
                session,
                actor=SYSTEM,
                invoice_id=invoice_id,
                data=CreditNoteCreate(
                    reason="Correction",
                    lines=[CreditLine(invoice_line_id=line.id, amount=amount)],
                ),
            )
            return note.note.total

        total = self.step(use)
        if total is not None:
            self.expected[patient_id] -= total

    def _pay(self, data: PaymentCreate) -> None:
        async def use(session: Any) -> uuid.UUID:
            made = await payments.record_payment(session, actor=SYSTEM, data=data)
            return made.payment.id

        payment_id = self.step(use)
        if payment_id is not None:
            self.payments.append(payment_id)
            self.expected[data.patient_id] -= data.amount

    @rule(
        who=picks,
        amount=amounts,
        method=st.sampled_from(PaymentMethod),
        parts=st.lists(st.tuples(picks, amounts), max_size=3),
    )
    def pay_with_allocations(
        self, who: int, amount: int, method: PaymentMethod, parts: list[tuple[int, int]]
    ) -> None:
        """Explicit allocations, drawn from all invoices: some another patient's, some
        past what is owed (refused as a whole)."""
        patient_id = self.patients[who % 2]
        wanted: dict[uuid.UUID, int] = {}
        for which, part in parts:
            if self.invoices:
                wanted.setdefault(self.invoices[which % len(self.invoices)][0], part)
        allocations = [AllocationWanted(invoice_id=i, amount=a) for i, a in wanted.items()]
        self._pay(
            PaymentCreate(
                patient_id=patient_id, method=method, amount=amount, allocations=allocations
            )
        )

    @rule(who=picks, amount=amounts)
    def pay_oldest_first(self, who: int, amount: int) -> None:
        """Often more than is owed: the rest is credit."""
        self._pay(
            PaymentCreate(
                patient_id=self.patients[who % 2], method=PaymentMethod.CASH, amount=amount
            )
        )

    @precondition(lambda self: self.invoices)
    @rule(which=picks, amount=st.none() | amounts)
    def apply_credit(self, which: int, amount: int | None) -> None:
        """To an invoice still owed where there is one (else any, to be refused)."""
        known = [i for i, _ in self.invoices]

        async def use(session: Any) -> None:
            owed = list(
                await session.scalars(
                    select(Invoice.id)
                    .where(Invoice.id.in_(known), Invoice.amount_due > 0)
                    .order_by(Invoice.id)
                )
            )
            targets = owed or known
            await credit.apply_credit(
                session, actor=SYSTEM, invoice_id=targets[which % len(targets)], amount=amount
            )

        self.step(use)

    @precondition(lambda self: self.payments)
    @rule(which=picks, amount=amounts)
    def refund(self, which: int, amount: int) -> None:
        payment_id = self.payments[which % len(self.payments)]

        async def use(session: Any) -> uuid.UUID:
            made = await refunds.refund(
                session,
                actor=SYSTEM,
                payment_id=payment_id,
                data=RefundCreate(amount=amount, reason="Asked back"),
            )
            return made.patient_id

        patient_id = self.step(use)
        if patient_id is not None:
            self.expected[patient_id] += amount

    @precondition(lambda self: self.payments)
    @rule(which=picks)
    def void(self, which: int) -> None:
        payment_id = self.payments[which % len(self.payments)]

        async def use(session: Any) -> tuple[uuid.UUID, int]:
            made = await payments.void_payment(
                session, actor=SYSTEM, payment_id=payment_id, reason="Taken in error"
            )
            return made.payment.patient_id, made.payment.amount

        found = self.step(use)
        if found is not None:
            self.expected[found[0]] += found[1]

    # --- the invariant -------------------------------------------------------------------

    @invariant()
    def the_books_balance(self) -> None:
        if self.patients:
            self.run(self._in_tenant(self._check))

    async def _check(self, session: Any) -> None:
        for patient_id in self.patients:
            figures = await credit.balance(session, actor=SYSTEM, patient_id=patient_id)
            assert figures.balance == figures.owed - figures.credit_available, figures
            assert figures.balance == self.expected[patient_id], figures
            assert figures.owed >= 0 and figures.credit_available >= 0, figures
        allocated = dict(
            (
                await session.execute(
                    select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount))
                    .where(PaymentAllocation.invoice_id.in_([i for i, _ in self.invoices]))
                    .group_by(PaymentAllocation.invoice_id)
                )
            ).all()
        )
        credited = dict(
            (
                await session.execute(
                    select(CreditNote.invoice_id, func.sum(CreditNote.total))
                    .where(CreditNote.invoice_id.in_([i for i, _ in self.invoices]))
                    .group_by(CreditNote.invoice_id)
                )
            ).all()
        )
        for invoice in await session.scalars(
            select(Invoice).where(Invoice.id.in_([i for i, _ in self.invoices]))
        ):
            paid = int(allocated.get(invoice.id, 0))
            assert invoice.credited_total == int(credited.get(invoice.id, 0))
            assert invoice.amount_paid == paid
            assert invoice.amount_due == invoice.total - invoice.credited_total - paid
            assert invoice.amount_due >= 0
        for payment in await session.scalars(select(Payment).where(Payment.id.in_(self.payments))):
            rows = await session.scalar(
                select(func.sum(PaymentAllocation.amount)).where(
                    PaymentAllocation.payment_id == payment.id
                )
            )
            back = await session.scalar(
                select(func.sum(Refund.amount)).where(Refund.payment_id == payment.id)
            )
            assert payment.allocated == int(rows or 0)
            assert payment.refunded == int(back or 0)
            assert payment.amount - payment.allocated - payment.refunded >= 0
            if payment.status == PaymentStatus.VOIDED:
                assert (payment.allocated, payment.refunded, payment.unallocated) == (0, 0, 0)


def test_the_books_always_balance(migrated_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    db = create_database(migrated_database_url, pool_size=2)

    async def setup() -> uuid.UUID:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            organization = await organizations.create_organization(session, name="Ledger Clinic")
            return organization.id

    try:
        Ledger.loop, Ledger.db, Ledger.done = loop, db, collections.Counter()
        Ledger.org_id = loop.run_until_complete(setup())
        fresh: type[Ledger] = type("LedgerRun", (Ledger,), {})  # settings apply once a class
        run = settings(
            max_examples=12,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )(fresh).TestCase
        run().runTest()
        # Every kind of step went through, not only refusals, so the checks saw them all.
        steps = {"issue_invoice", "credit_note", "_pay", "apply_credit", "refund", "void"}
        assert all(Ledger.done[s] >= 1 for s in steps), Ledger.done
        assert Ledger.done["refused"] >= 3, Ledger.done
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()
