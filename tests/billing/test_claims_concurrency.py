"""Parallel remittances on one claim, on both databases, each in its own session and
transaction as ten clerks posting one payer's remittance advice at once would: the claim
is never paid beyond its approved amount, every remittance that went through posted its
insurance payment, the refused ones left nothing behind, and the books balance."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from clinicdesk.billing.claim_models import ClaimRemittance
from clinicdesk.billing.claim_schemas import ClaimAccept, ClaimCreate, RemittanceCreate
from clinicdesk.billing.errors import RemittanceRefused
from clinicdesk.billing.payment_models import Payment
from clinicdesk.billing.schemas import InvoiceCreate, LineAdd
from clinicdesk.billing.service import claims, credit, invoices, issuing
from clinicdesk.billing.vocabulary import ClaimStatus, PaymentMethod
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor, ActorKind
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.permissions import Permission
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from clinicdesk.patients.schemas import PayerWrite, PolicyWrite
from clinicdesk.patients.service import insurance
from tests.support.patients import register_patient

CLERKS = 10


async def _accepted_claim(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    """A patient with a policy, an issued invoice of 1000 claimed in full, accepted for
    800: (organization, patient, invoice, claim)."""
    async with session_scope(db) as session:
        org_id = (await organizations.create_organization(session, name="Busy Billing")).id
        await scope_to_tenant(session, org_id)
        patient = await register_patient(session)
        keeper = Actor(
            kind=ActorKind.SYSTEM,
            organization_id=org_id,
            permissions=frozenset({Permission.PAYERS_MANAGE, Permission.PATIENTS_INSURANCE}),
        )
        payer = await insurance.add_payer(session, actor=keeper, data=PayerWrite(name="Acme"))
        policy = await insurance.add_policy(
            session,
            actor=keeper,
            patient_id=patient.id,
            data=PolicyWrite(payer_id=payer.id, member_number="MBR-1"),
        )
        made = await invoices.create_draft(
            session,
            actor=SYSTEM,
            data=InvoiceCreate(
                patient_id=patient.id, lines=[LineAdd(name="Visit", unit_price=1000)]
            ),
        )
        await issuing.issue(
            session, actor=SYSTEM, invoice_id=made.invoice.id, expected_version=None
        )
        claim = await claims.create_claim(
            session, actor=SYSTEM, data=ClaimCreate(invoice_id=made.invoice.id, policy_id=policy.id)
        )
        await claims.submit_claim(
            session, actor=SYSTEM, claim_id=claim.claim.id, expected_version=None
        )
        await claims.accept_claim(
            session,
            actor=SYSTEM,
            claim_id=claim.claim.id,
            data=ClaimAccept(amount_approved=800),
            expected_version=None,
        )
        return org_id, patient.id, made.invoice.id, claim.claim.id


async def _remit(db: Database, org_id: uuid.UUID, claim_id: uuid.UUID, amount: int) -> int:
    async with session_scope(db) as session:
        await scope_to_tenant(session, org_id)
        await claims.record_remittance(
            session, actor=SYSTEM, claim_id=claim_id, data=RemittanceCreate(amount=amount)
        )
        return amount


async def test_ten_parallel_remittances_never_pay_a_claim_beyond_its_approval(
    migrated_database_url: str,
) -> None:
    db = create_database(migrated_database_url, pool_size=CLERKS, sqlite_busy_timeout_ms=120_000)
    try:
        await migrations.upgrade(db)
        org_id, patient_id, invoice_id, claim_id = await _accepted_claim(db)

        # 150 each against 800 approved: five go through (750), the rest are refused.
        outcomes = await asyncio.gather(
            *(_remit(db, org_id, claim_id, 150) for _ in range(CLERKS)), return_exceptions=True
        )
        taken = [o for o in outcomes if isinstance(o, int)]
        refused = [o for o in outcomes if not isinstance(o, int)]
        assert len(taken) == 5, outcomes
        assert all(isinstance(o, RemittanceRefused) for o in refused), refused

        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            detail = await claims.get_claim(session, claim_id, actor=SYSTEM)
            assert (detail.claim.amount_paid, detail.claim.status) == (
                750,
                ClaimStatus.PARTIALLY_PAID,
            )
            remitted = await session.scalar(
                select(func.sum(ClaimRemittance.amount)).where(ClaimRemittance.claim_id == claim_id)
            )
            assert remitted == 750
            paid_in = list(
                await session.scalars(
                    select(Payment.amount).where(
                        Payment.patient_id == patient_id,
                        Payment.method == PaymentMethod.INSURANCE,
                    )
                )
            )
            assert sorted(paid_in) == [150] * 5  # one insurance payment per remittance
            invoice = (await invoices.get_invoice(session, invoice_id, actor=SYSTEM)).invoice
            assert (invoice.amount_paid, invoice.amount_due) == (750, 250)
            figures = await credit.balance(session, actor=SYSTEM, patient_id=patient_id)
            assert figures.balance == figures.invoiced - figures.credited - figures.paid
            assert (figures.balance, figures.credit_available) == (250, 0)

        # The last 50 by two clerks at once: one pays the claim off; the other then finds a
        # paid claim, which takes no remittance.
        outcomes = await asyncio.gather(
            *(_remit(db, org_id, claim_id, 50) for _ in range(2)), return_exceptions=True
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["ClaimStepRefused", "int"]
        async with session_scope(db) as session:
            await scope_to_tenant(session, org_id)
            detail = await claims.get_claim(session, claim_id, actor=SYSTEM)
            assert (detail.claim.amount_paid, detail.claim.status) == (800, ClaimStatus.PAID)
            assert len(detail.remittances) == 6
    finally:
        await db.dispose()
