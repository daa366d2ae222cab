"""Gapless numbers under concurrency, on both databases: 50 parallel issues (each in its
own session and transaction, as 50 desks would) get exactly 1..50, even with issues
that roll back among them; a rolled-back issue leaves no gap and its number is given to
the next issue, never twice. Parallel credit notes of one invoice never overshoot."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from clinicdesk.billing.errors import CreditRefused
from clinicdesk.billing.models import Invoice, InvoiceLine
from clinicdesk.billing.schemas import CreditLine, CreditNoteCreate, InvoiceCreate, LineAdd
from clinicdesk.billing.service import invoices, issuing
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from tests.support.patients import register_patient

ISSUES = 50
ROLLED_BACK = 10


class Abandoned(Exception):
    """The desk's request fails after the number was taken (a crash, a lost connection)."""


async def _drafts(db: Database, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with session_scope(db) as session:
        organization = await organizations.create_organization(session, name="Busy Clinic")
        patient = await register_patient(session)
        ids = []
        for n in range(count):
            made = await invoices.create_draft(
                session,
                actor=SYSTEM,
                data=InvoiceCreate(
                    patient_id=patient.id, lines=[LineAdd(name=f"Visit {n}", unit_price=1000)]
                ),
            )
            ids.append(made.invoice.id)
        return organization.id, ids


async def _issue(db: Database, org_id: uuid.UUID, invoice_id: uuid.UUID, *, fail: bool) -> None:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        await issuing.issue(session, actor=SYSTEM, invoice_id=invoice_id, expected_version=None)
        if fail:
            raise Abandoned


async def _numbers(db: Database, org_id: uuid.UUID) -> list[int]:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        found = await session.scalars(
            select(Invoice.number_seq).where(Invoice.number_seq.is_not(None))
        )
        return sorted(n for n in found if n is not None)


async def test_fifty_parallel_issues_number_exactly_one_to_fifty(
    migrated_database_url: str,
) -> None:
    db = create_database(
        migrated_database_url, pool_size=ISSUES + ROLLED_BACK, sqlite_busy_timeout_ms=120_000
    )
    try:
        await migrations.upgrade(db)
        org_id, ids = await _drafts(db, ISSUES + ROLLED_BACK)
        # Every sixth issue fails after taking its number, interleaved with the others.
        failing = set(ids[::6][:ROLLED_BACK])
        outcomes = await asyncio.gather(
            *(_issue(db, org_id, i, fail=i in failing) for i in ids), return_exceptions=True
        )
        failed = [o for o in outcomes if o is not None]
        assert len(failed) == ROLLED_BACK
        assert all(isinstance(o, Abandoned) for o in failed), failed
        assert await _numbers(db, org_id) == list(range(1, ISSUES + 1))
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            issued = list(await session.scalars(select(Invoice).where(Invoice.status == "issued")))
        assert {i.id for i in issued} == set(ids) - failing
        assert len({i.number for i in issued}) == ISSUES
        year = issued[0].number_year
        assert {i.number for i in issued} == {f"INV-{year}-{n:06d}" for n in range(1, 51)}
    finally:
        await db.dispose()


async def test_a_rolled_back_issue_leaves_no_gap(migrated_database_url: str) -> None:
    db = create_database(migrated_database_url, pool_size=2)
    try:
        await migrations.upgrade(db)
        org_id, (first, second) = await _drafts(db, 2)
        with pytest.raises(Abandoned):
            await _issue(db, org_id, first, fail=True)
        assert await _numbers(db, org_id) == []
        await _issue(db, org_id, second, fail=False)
        await _issue(db, org_id, first, fail=False)
        assert await _numbers(db, org_id) == [1, 2]
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            assert (await session.get_one(Invoice, second)).number_seq == 1
            assert (await session.get_one(Invoice, first)).number_seq == 2
    finally:
        await db.dispose()


async def _credit(
    db: Database, org_id: uuid.UUID, invoice_id: uuid.UUID, line_id: uuid.UUID
) -> str:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        made = await issuing.credit(
            session,
            actor=SYSTEM,
            invoice_id=invoice_id,
            data=CreditNoteCreate(
                reason="Parallel", lines=[CreditLine(invoice_line_id=line_id, amount=300)]
            ),
        )
        return made.note.number


async def test_parallel_credit_notes_never_credit_more_than_the_line(
    migrated_database_url: str,
) -> None:
    """Ten desks credit 300 of a 1000 line at once: the invoice is locked meanwhile, so
    exactly three succeed (900), the rest are refused, and the credit-note series is 1..3."""
    db = create_database(migrated_database_url, pool_size=10, sqlite_busy_timeout_ms=120_000)
    try:
        await migrations.upgrade(db)
        org_id, (invoice_id,) = await _drafts(db, 1)
        await _issue(db, org_id, invoice_id, fail=False)
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            (line,) = await session.scalars(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
            )
        outcomes = await asyncio.gather(
            *(_credit(db, org_id, invoice_id, line.id) for _ in range(10)),
            return_exceptions=True,
        )
        numbers = sorted(o for o in outcomes if isinstance(o, str))
        refused = [o for o in outcomes if not isinstance(o, str)]
        assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
        assert len(refused) == 7 and all(isinstance(o, CreditRefused) for o in refused), refused
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            invoice = await session.get_one(Invoice, invoice_id)
            assert (invoice.total, invoice.credited_total, invoice.amount_due) == (1000, 900, 100)
    finally:
        await db.dispose()
