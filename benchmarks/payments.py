"""Recording a payment, uncontended, in process: the time of one ``record_payment`` use
case in its own transaction (the patient's check, locking the invoice, the payment row,
its allocation, the invoice's new figures and their audit entries, the commit).

A fresh database (SQLite, or the test suite's throwaway PostgreSQL cluster with the
server connecting as the application role under row-level security) is migrated; one
organization and ``--patients`` patients each with one issued invoice are loaded as the
owner. Then, as the application role, each patient pays in turn: half the payments are
allocated oldest first (paying part of the invoice), half name the invoice explicitly.
Reported: p50, p95 and max of the wall time per payment (``--payments`` of them, after
``--warmup`` not counted).

Not the issue's target (30 ms p95 at 50 concurrent users over HTTP): that needs the
HTTP load harness (``http_load.py``) and a payments scenario there.

Run: uv run python benchmarks/payments.py [--payments 300] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date

from harness import on_each, percentile
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.billing.payment_schemas import AllocationWanted, PaymentCreate
from clinicdesk.billing.schemas import InvoiceCreate, LineAdd
from clinicdesk.billing.service import invoices, issuing, payments
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.service import organizations
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service import records


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> str:
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    pairs: list[tuple[uuid.UUID, uuid.UUID]] = []
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        async with session_scope(owner) as session:
            org = await organizations.create_organization(session, name="Payments Bench")
            for n in range(args.patients):
                patient = await records.register_patient(
                    session,
                    actor=SYSTEM,
                    data=PatientCreate(
                        given_name="Pay",
                        family_name=f"Bench{chr(65 + n % 26)}{chr(97 + n // 26 % 26)}",
                        birth_date=date(1980, 1, 1),
                    ),
                )
                made = await invoices.create_draft(
                    session,
                    actor=SYSTEM,
                    data=InvoiceCreate(
                        patient_id=patient.id,
                        lines=[LineAdd(name="Visit", unit_price=10**7)],
                    ),
                )
                await issuing.issue(
                    session, actor=SYSTEM, invoice_id=made.invoice.id, expected_version=None
                )
                pairs.append((patient.id, made.invoice.id))
        kind = owner.kind
    finally:
        await owner.dispose()
    db = create_database(app_url, pool_size=2)
    timings: list[float] = []
    try:
        for n in range(args.warmup + args.payments):
            patient_id, invoice_id = pairs[n % len(pairs)]
            explicit = [AllocationWanted(invoice_id=invoice_id, amount=100)] if n % 2 else None
            data = PaymentCreate(
                patient_id=patient_id,
                method=PaymentMethod.CARD if n % 3 else PaymentMethod.CASH,
                amount=100,
                allocations=explicit,
            )
            started = time.perf_counter()
            async with session_scope(db) as session:
                await scope_to_tenant(session, org.id)
                await payments.record_payment(session, actor=SYSTEM, data=data)
            if n >= args.warmup:
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await db.dispose()
    return (
        f"{kind}: {len(timings)} payments, p50 {percentile(timings, 0.5):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
    )


async def main_async(args: argparse.Namespace) -> None:
    async def run(owner_url: str, app_url: str) -> str:
        return await run_on(owner_url, app_url, args)

    for line in await on_each(args.database, run, name="payments", keep=False, time_limit=600):
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    configure_field_encryption(FieldKeyring(new_field_encryption_key()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
