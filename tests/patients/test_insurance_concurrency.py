"""Two desks adding a primary policy for one patient at the same moment: one is added,
the other refused, on both databases (the patient's row is locked while the overlap is
checked on PostgreSQL; SQLite writes one transaction at a time)."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import pytest
from sqlalchemy import func, select

from clinicdesk.core import migrations
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from clinicdesk.patients.models import InsurancePolicy
from clinicdesk.patients.schemas import PayerWrite, PolicyWrite
from clinicdesk.patients.service import insurance
from tests.support.patients import register_patient

DESKS = 6


async def test_parallel_primary_policies_one_wins(
    migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each desk waits (up to half a second) for all the others to reach the overlap check
    # with their own policy inserted: without the patient lock, all of them would check,
    # see no other, and be added.
    original = insurance._refuse_overlap
    everyone = asyncio.Event()
    arrived = 0

    async def all_at_once(*args: Any) -> None:
        nonlocal arrived
        arrived += 1
        if arrived == DESKS:
            everyone.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), 0.5)
        await original(*args)

    monkeypatch.setattr(insurance, "_refuse_overlap", all_at_once)
    db = create_database(migrated_database_url, pool_size=DESKS)
    try:
        await migrations.upgrade(db)
        async with session_scope(db) as session:
            organization = await organizations.create_organization(session, name="Busy Desk")
            await scope_to_tenant(session, organization.id)
            desk = Actor(
                kind=ActorKind.STAFF,
                organization_id=organization.id,
                permissions=frozenset({Permission.PATIENTS_INSURANCE, Permission.PAYERS_MANAGE}),
            )
            payer = await insurance.add_payer(session, actor=desk, data=PayerWrite(name="Aetna"))
            patient = await register_patient(session)
        payer_id, patient_id = payer.id, patient.id

        async def add(n: int) -> str:
            try:
                async with session_scope(db) as session:
                    await scope_to_tenant(session, organization.id)
                    await insurance.add_policy(
                        session,
                        actor=desk,
                        patient_id=patient_id,
                        data=PolicyWrite(payer_id=payer_id, member_number=f"W{n:04d}"),
                    )
            except ClinicError as error:
                return error.code
            return "added"

        outcomes = await asyncio.gather(*(add(n) for n in range(DESKS)))
        assert sorted(outcomes) == ["added"] + ["insurance-policy-overlap"] * (DESKS - 1)
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization.id)
            count = await session.scalar(select(func.count()).select_from(InsurancePolicy))
        assert count == 1
    finally:
        await db.dispose()
