"""Concurrent writers on both databases: every audit entry lands in one unbroken chain.

On PostgreSQL appends lock the chain head row; on SQLite every transaction begins
IMMEDIATE, so a writer waits for the lock instead of failing on a stale snapshot."""

from __future__ import annotations

import asyncio

from clinicdesk.audit import service as audit
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations

WRITERS = 20


async def test_parallel_requests_extend_one_unbroken_chain(migrated_database_url: str) -> None:
    db = create_database(migrated_database_url, pool_size=WRITERS)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            organization = await organizations.create_organization(session, name="Busy Clinic")
        org_id = organization.id

        async def write(n: int) -> None:
            async with session_scope(db) as session:
                await scope_to_tenant(session, org_id)
                await audit.record(session, action="test.parallel", actor=SYSTEM, details={"n": n})

        await asyncio.gather(*(write(n) for n in range(WRITERS)))
        async with session_scope(db) as session:
            report = await audit.verify_chains(session)
        assert report.ok, report.problems
        assert report.entries == WRITERS + 1  # plus organization.created
    finally:
        await db.dispose()
