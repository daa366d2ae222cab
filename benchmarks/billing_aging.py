"""The aging report with 50,000 patients and 300,000 invoices, on SQLite and PostgreSQL.

Loads N patients and M issued invoices (default 50,000 and 300,000) into a fresh,
migrated database by bulk insert (no audit entries, no lines: the report reads only the
invoices' own columns), issue dates spread evenly over the 400 days before a fixed day,
three locations, and a share of them still owing (``--outstanding``, default 0.3; the
rest paid in full, as most invoices of a working clinic are). Then times
``aging_report`` (the service behind ``GET /api/v1/billing/aging`` and the page) as a
request runs it: its own session scoped to the organization (on PostgreSQL as the
application role, so row-level security applies), one transaction, commit. What is
timed is the whole call: the organization's currency, the grouped statement with its
totals, the page's patients' names, and the list read written on the audit trail.

Cases: the first page (50 patients, most overdue first, with the totals of every page),
the first page by balance, a page deep in the list (offset 20,000), one location, a
minimum balance, and the CSV export (every row: the grouped statement, the names, the
credits, the list reads on the audit trail and the CSV text, as the download route does).

Run: uv run python benchmarks/billing_aging.py [--patients 50000] [--invoices 300000]
     [--outstanding 0.3] [--runs 30] [--database sqlite|postgresql|both] [--explain]
     [--only export]   (only the cases whose name contains the word)
Bounded: a throwaway PostgreSQL cluster on 127.0.0.1 is stopped and removed at the end,
and each database's run is cancelled after --time-limit seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from harness import analyze, database_size, on_each, percentile, table
from sqlalchemy import insert
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.billing.balance_schemas import AgingSort
from clinicdesk.billing.models import Invoice
from clinicdesk.billing.service import aging, aging_export
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor, ActorKind
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.models import new_id
from clinicdesk.core.pagination import encode_cursor
from clinicdesk.core.sqlite_driver import sqlite_version
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import permissions_for
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service.organizations import create_location, create_organization
from clinicdesk.patients.models import Patient
from clinicdesk.patients.service.records import format_mrn

SEED = 20261205
AS_OF = date(2026, 12, 1)  # fixed, so the buckets (and so the data) do not depend on the day
SPREAD_DAYS = 400
TARGET_MS = 300.0
BATCH = 10_000
PAGE = 50
WARMUP = 3
GIVEN = ("Ann", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea")
FAMILY = ("Lee", "Moreno", "Nguyen", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka")


@dataclass
class RunResult:
    database: str
    version: str
    load_seconds: float
    size_bytes: int
    outstanding: int
    cases: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


# --- the load ---------------------------------------------------------------------------


async def load(db: Database, args: argparse.Namespace) -> tuple[uuid.UUID, list[uuid.UUID], int]:
    """A new organization with three locations, the patients and the invoices; returns
    the organization, its locations and how many invoices still owe something."""
    async with session_scope(db) as session:
        organization = await create_organization(
            session, name="Aging Benchmark Clinic", time_zone="America/New_York"
        )
        organization_id = organization.id
        locations = [
            (await create_location(session, actor=SYSTEM, data=LocationWrite(name=name))).id
            for name in ("North", "South", "Harbour")
        ]
    rng = random.Random(SEED)
    patient_ids = [new_id() for _ in range(args.patients)]
    rows: list[dict[str, Any]] = []

    async def flush(model: type[Any]) -> None:
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            await session.execute(insert(table(model)), rows)
        rows.clear()

    for number, patient_id in enumerate(patient_ids, start=1):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        rows.append(
            {
                "id": patient_id,
                "organization_id": organization_id,
                "version": 1,
                "mrn": format_mrn(number),
                "given_name": given,
                "family_name": family,
                "sex_at_birth": "unknown",
                "birth_date": date(1950, 1, 1) + timedelta(days=rng.randint(0, 25_000)),
                "no_known_allergies": False,
                "search_name": f"{given} {family}".casefold(),
                "restricted": False,
            }
        )
        if len(rows) >= BATCH:
            await flush(Patient)
    if rows:
        await flush(Patient)

    owing = 0
    issued_at = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(1, args.invoices + 1):
        issue_date = AS_OF - timedelta(days=rng.randrange(SPREAD_DAYS))
        total = rng.randint(20, 400) * 500  # 100.00 to 2,000.00
        owes = rng.random() < args.outstanding
        paid = (total if rng.random() < 0.7 else total // 2) if not owes else 0
        if owes and rng.random() < 0.3:
            paid = total // 3  # partly paid, still owing
        owing += owes
        rows.append(
            {
                "id": new_id(),
                "organization_id": organization_id,
                "version": 1,
                "patient_id": rng.choice(patient_ids),
                "location_id": rng.choice(locations),
                "status": "issued",
                "currency": "USD",
                "number": f"INV-{issue_date.year}-{number:07d}",
                "number_year": issue_date.year,
                "number_seq": number,
                "issue_date": issue_date,
                "issued_at": issued_at,
                "subtotal": total,
                "discount_total": 0,
                "tax_total": 0,
                "total": total,
                "credited_total": 0,
                "amount_paid": paid if owes else total,
                "amount_due": total - paid if owes else 0,
            }
        )
        if len(rows) >= BATCH:
            await flush(Invoice)
    if rows:
        await flush(Invoice)
    return organization_id, locations, owing


# --- measuring --------------------------------------------------------------------------


def billing_clerk(organization_id: uuid.UUID) -> Actor:
    roles = frozenset({"billing"})
    return Actor(
        kind=ActorKind.STAFF,
        user_id=new_id(),
        organization_id=organization_id,
        roles=roles,
        permissions=permissions_for(roles),
    )


Case = Callable[[Any, Actor], Awaitable[Any]]


def cases(locations: list[uuid.UUID]) -> dict[str, Case]:
    def page(**kwargs: Any) -> Case:
        async def run(session: Any, actor: Actor) -> Any:
            return await aging.aging_report(session, actor=actor, as_of=AS_OF, limit=PAGE, **kwargs)

        return run

    async def export(session: Any, actor: Actor) -> Any:
        return await aging_export.export_csv(session, actor=actor, as_of=AS_OF)

    return {
        "first page, most overdue": page(),
        "first page, by balance": page(sort=AgingSort.BALANCE),
        "page at 20,000": page(cursor=encode_cursor(20_000)),
        "one location": page(location_id=locations[0]),
        "balance >= 3,000.00": page(min_balance=300_000),
        "CSV export (every row)": export,
    }


async def run_case(
    db: Database, organization_id: uuid.UUID, case: Case
) -> tuple[float, float, Any]:
    """Wall time and this process's CPU time (on SQLite the query runs in this process,
    so its CPU time stays readable when other work shares the machine)."""
    async with db.sessionmaker() as session, unit_of_work(session):
        await scope_to_tenant(session, organization_id)
        started, cpu = time.perf_counter(), time.process_time()
        report = await case(session, billing_clerk(organization_id))
        return time.perf_counter() - started, time.process_time() - cpu, report


async def explain(db: Database, organization_id: uuid.UUID) -> None:
    async with db.sessionmaker() as session, unit_of_work(session):
        await scope_to_tenant(session, organization_id)
        grouped = aging.per_patient(session, as_of=AS_OF, currency="USD").subquery("owed")
        statement = aging._report_rows(grouped, AgingSort.OVERDUE).limit(PAGE + 1)
        connection = await session.connection()
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if db.kind == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        for row in (await connection.exec_driver_sql(prefix + str(compiled))).all():
            print("      " + " | ".join(str(value) for value in row))


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> RunResult:
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        started = time.perf_counter()
        organization_id, locations, owing = await load(owner, args)
        loaded = time.perf_counter() - started
        if owner.kind == "postgresql":
            # Autovacuum's job a while after such a load: the visibility map an index-only
            # scan needs (ANALYZE alone leaves it empty).
            async with owner.engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM")
        await analyze(owner)
        version = await owner.server_version()
        size = await database_size(owner)
    finally:
        await owner.dispose()
    print(
        f"{owner.kind}: loaded {args.patients:,} patients and {args.invoices:,} invoices "
        f"({owing:,} owing) in {loaded:.1f} s; database {size / 2**20:.0f} MiB",
        flush=True,
    )
    result = RunResult(owner.kind, version, loaded, size, owing)
    db = create_database(app_url, pool_size=2)
    try:
        gc.collect()
        gc.freeze()
        for name, case in cases(locations).items():
            if args.only and args.only not in name:
                continue
            runs = args.runs if "every row" not in name else max(3, args.runs // 5)
            for _ in range(WARMUP):
                await run_case(db, organization_id, case)
            timings, cpu = [], []
            for _ in range(runs):
                seconds, cpu_seconds, report = await run_case(db, organization_id, case)
                timings.append(seconds)
                cpu.append(cpu_seconds)
            result.cases[name] = timings
            result.cpu[name] = cpu
            rows = report.rows if isinstance(report.rows, int) else len(report.rows)
            result.figures[name] = (report.patients, rows)
            print(
                f"  {name}: median {statistics.median(timings) * 1000:.1f} ms, load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if args.explain:
            await explain(db, organization_id)
    finally:
        await db.dispose()
    return result


# --- report -----------------------------------------------------------------------------


def print_table(result: RunResult) -> None:
    print()
    print(
        f"{result.database} {result.version}: load {result.load_seconds:.1f} s, "
        f"database {result.size_bytes / 2**20:.0f} MiB, {result.outstanding:,} invoices owing"
    )
    header = (
        f"{'case':<28}{'runs':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'cpu p50':>9}"
        "  patients / rows"
    )
    print(header)
    print("-" * len(header))
    for name, timings in result.cases.items():
        patients, rows = result.figures[name]
        late = " *" if percentile(timings, 0.95) * 1000 > TARGET_MS else ""
        print(
            f"{name:<28}{len(timings):>5}{percentile(timings, 0.5) * 1000:>9.1f}"
            f"{percentile(timings, 0.95) * 1000:>9.1f}{max(timings) * 1000:>9.1f}"
            f"{percentile(result.cpu[name], 0.5) * 1000:>9.1f}  {patients:,} / {rows:,}{late}"
        )
    print(f"(* p95 above the {TARGET_MS:.0f} ms target; cpu: this process's CPU time, which on")
    print(" PostgreSQL leaves out the server's)")


async def main_async(args: argparse.Namespace) -> None:
    results = await on_each(
        args.database,
        lambda owner, app: run_on(owner, app, args),
        name="aging",
        keep=args.keep,
        time_limit=args.time_limit,
    )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite_version()} (bundled); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.patients:,} patients, {args.invoices:,} invoices over {SPREAD_DAYS} days, "
        f"{args.outstanding:.0%} owing; {args.runs} runs per case after {WARMUP} warm-up runs; "
        f"seed {SEED}"
    )
    for result in results:
        print_table(result)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--invoices", type=int, default=300_000)
    parser.add_argument(
        "--outstanding", type=float, default=0.3, help="share of invoices still owing"
    )
    parser.add_argument("--runs", type=int, default=30, help="per case")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--explain", action="store_true", help="show the report's plan")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database file")
    parser.add_argument(
        "--time-limit", type=float, default=900, help="seconds per database before giving up"
    )
    args = parser.parse_args()
    # A fresh key: the benchmark's database is thrown away, and so is the key.
    configure_field_encryption(FieldKeyring(new_field_encryption_key()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
