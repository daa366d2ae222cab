"""The demo clinic's money: each past consultation was billed at checkout on its day, so
the invoice list, the balances, the day close and a patient's statement have a month of
history to show.

Each finished consultation drafts its invoice through billing's own reaction (the visit
type's fee and its priced tests), and the front desk issues it; the issue is dated the
day of the visit, as it would have been at that checkout. Most were paid there (cash or
card, received as the patient left), some in part, and some still owe: the aging report
and the chart's balance have something to show. Today's consultations are left as
drafts for the desk to check out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate
from clinicdesk.billing.service import drafting, issuing, payments
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.clinical.models import Encounter
from clinicdesk.clinical.service.closing import finished_event
from clinicdesk.clinical.vocabulary import EncounterStatus
from clinicdesk.core.actor import Actor
from clinicdesk.core.models import utcnow

SEED = 2718
PAID_IN_FULL = 0.75
PAID_IN_PART = 0.12  # the rest of the past invoices still owe everything


@dataclass(frozen=True, slots=True)
class DemoBilling:
    drafted: int
    issued: int
    payments: int


async def seed_demo_billing(
    session: AsyncSession, *, front_desk: Actor, zone: ZoneInfo, seed: int = SEED
) -> DemoBilling:
    """Invoices for the demo's finished consultations, issued and (mostly) paid on the
    day of the visit; today's stay drafts. The fee schedule must be in place."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    now = utcnow()
    today = now.astimezone(zone).date()
    finished = (
        await session.scalars(
            select(Encounter)
            .where(Encounter.status == EncounterStatus.FINISHED, Encounter.finished_at.is_not(None))
            .order_by(Encounter.finished_at)
        )
    ).all()
    drafted = issued = paid = 0
    for encounter in finished:
        invoice = await drafting.draft_for_encounter(
            session, finished_event(encounter, actor=front_desk)
        )
        if invoice is None:
            continue
        drafted += 1
        left_at: datetime = encounter.finished_at or now
        if left_at.astimezone(zone).date() >= today:
            continue  # today's checkouts are the desk's to do
        done = await issuing.issue(
            session, actor=front_desk, invoice_id=invoice.id, expected_version=None
        )
        # Issued at that day's checkout (the service dates it now).
        done.invoice.issue_date = left_at.astimezone(zone).date()
        done.invoice.issued_at = left_at
        await session.flush()
        issued += 1
        luck = rng.random()
        if luck >= PAID_IN_FULL + PAID_IN_PART:
            continue
        total = done.invoice.amount_due
        amount = total if luck < PAID_IN_FULL else max(1, (total // 2) // 100 * 100)
        await payments.record_payment(
            session,
            actor=front_desk,
            data=PaymentCreate(
                patient_id=encounter.patient_id,
                method=rng.choice((PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.CARD)),
                amount=amount,
                received_at=min(left_at + timedelta(minutes=rng.randint(2, 9)), now),
                location_id=encounter.location_id,
                allocations=[AllocationWanted(invoice_id=invoice.id, amount=amount)],
            ),
        )
        paid += 1
    return DemoBilling(drafted=drafted, issued=issued, payments=paid)
