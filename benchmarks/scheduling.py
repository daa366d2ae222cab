"""Scheduling latency with a year of appointments, on SQLite and PostgreSQL.

Creates a clinic with one location (America/New_York), N providers (default 10) with
realistic weekly hours (a morning and an afternoon block Monday to Friday, some with a
weekday off or Saturday mornings), four appointment types (15, 20 + 5 buffer, 30, and
45 + 10 buffer minutes), a few thousand patients, and a year of appointments before
today plus four weeks after it: about 16 a provider a working day, about 40,000 for 10
providers. Then times, in-process, what the calendar and the booking screens call:

* week view: ``calendar.appointments_between`` of one provider for a Monday-to-Monday
  week (past or future), and a day view of the whole location (every provider, one day);
* free slots: ``slots.find_slots`` over 14 days from a date in the coming three weeks,
  for one provider and for any provider at the location;
* booking: ``booking.book`` of a slot found just before (untimed), with its commit.

The load is a bulk Core insert on a per-provider timeline, so no two appointments of a
provider overlap (PostgreSQL's exclusion constraint accepts them): busy_until is the end
plus the type's buffer, past appointments are mostly fulfilled (7 % no-show and 8 %
cancelled, which do not hold their slot), future ones booked, thinning out with distance
(90 % of the slots a provider could fill tomorrow, 15 % in four weeks). ANALYZE runs after
it. No audit entries are written for the load; the setup (providers, hours, types) and
the measured bookings go through the services.

Each request runs as a request does: a new session scoped to the organization (on
PostgreSQL as a role that owns no table, so row-level security applies), one transaction,
commit. The service call is timed; for a booking, the call and the commit.

Run: uv run python benchmarks/scheduling.py [--providers 10] [--queries 300]
     [--database sqlite|postgresql|both] [--explain] [--quick]
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from harness import (
    add_provider,
    analyze,
    captured_statements,
    database_size,
    letters,
    on_each,
    percentile,
    table,
)
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.models import new_id
from clinicdesk.core.sqlite_driver import sqlite_version
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, users
from clinicdesk.identity.service.common import actor_for
from clinicdesk.identity.service.organizations import create_organization
from clinicdesk.patients.models import Patient
from clinicdesk.patients.service.records import format_mrn
from clinicdesk.patients.service.terms import search_name_of
from clinicdesk.patients.vocabulary import SexAtBirth
from clinicdesk.scheduling.models import Appointment
from clinicdesk.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeWrite,
    SlotQuery,
)
from clinicdesk.scheduling.service import booking, calendar, setup, slots
from clinicdesk.scheduling.vocabulary import AppointmentStatus

SEED = 20261123
ZONE = ZoneInfo("America/New_York")
TARGET_MS = 50.0
BATCH = 5_000
WARMUP_ROUNDS = 20
FUTURE_DAYS = 28
SLOT_RANGE_DAYS = 14
PATIENTS_PER_PROVIDER = 300
# (name, minutes, buffer after, weight): what a family practice books most.
TYPES = (
    ("Follow-up", 15, 0, 35),
    ("Sick visit", 20, 5, 30),
    ("New patient", 30, 0, 20),
    ("Annual physical", 45, 10, 15),
)
# Minutes left free before the next appointment (late patients, walk-in room, paperwork).
GAPS = (0, 0, 0, 0, 0, 0, 0, 5, 5, 10, 15)
KINDS = (
    "week view (provider)",
    "day view (location)",
    "free slots (provider)",
    "free slots (any provider)",
    "book + commit",
)
GIVEN = ("Ana", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jonas")
FAMILY = ("Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hoang", "Ito")


@dataclass(frozen=True, slots=True)
class Hours:
    """A provider's regular week in local time: (weekday, start, end) blocks."""

    blocks: tuple[tuple[int, clock, clock], ...]


@dataclass(frozen=True, slots=True)
class Clinic:
    organization_id: uuid.UUID
    location_id: uuid.UUID
    provider_ids: tuple[uuid.UUID, ...]
    type_ids: tuple[uuid.UUID, ...]
    patient_ids: tuple[uuid.UUID, ...]
    desk: Actor
    today: date


@dataclass
class Outcome:
    seconds: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")
    failures: int = 0


@dataclass
class RunResult:
    database: str
    version: str
    load_seconds: float
    size_bytes: int
    appointments: int
    outcomes: dict[str, Outcome]


# --- the clinic ------------------------------------------------------------------------


def hours_of(index: int) -> Hours:
    """Two blocks a weekday from one of four start times (7:30 to 9:00); every fifth
    provider takes Wednesdays off, every third works Saturday mornings."""
    start_hour, start_minute = ((8, 0), (8, 30), (9, 0), (7, 30))[index % 4]
    morning = (clock(start_hour, start_minute), clock(start_hour + 4, start_minute))
    afternoon = (clock(start_hour + 5, start_minute), clock(start_hour + 9, start_minute))
    weekdays = [d for d in range(5) if not (index % 5 == 3 and d == 2)]
    blocks = [(d, s, e) for d in weekdays for s, e in (morning, afternoon)]
    if index % 3 == 0:
        blocks.append((5, clock(9), clock(12)))
    return Hours(tuple(blocks))


async def set_up(db: Database, providers: int, today: date) -> tuple[Clinic, list[Hours]]:
    """The organization, location, provider accounts, hours and types, via the services;
    patients by a bulk insert."""
    async with session_scope(db) as session:
        organization = await create_organization(
            session, name="Scheduling Benchmark Clinic", time_zone="America/New_York"
        )
        location = await organizations.create_location(
            session,
            actor=SYSTEM,
            data=LocationWrite(name="Main", time_zone="America/New_York"),
        )
        desk_user = await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=organization.id,
            email="desk@example.com",
            full_name="Front Desk",
            roles=[Role.RECEPTIONIST],
            password=None,
        )
        provider_ids, hours = [], []
        for index in range(providers):
            week = hours_of(index)
            _, provider = await add_provider(
                session,
                organization_id=organization.id,
                location_id=location.id,
                display_name=f"Dr. Provider {index}",
                email=f"provider{index}@example.com",
                full_name=f"Provider {letters(index)}",  # names refuse digits
                blocks=week.blocks,
            )
            provider_ids.append(provider.id)
            hours.append(week)
        type_ids = []
        for name, minutes, buffer, _weight in TYPES:
            kind = await setup.create_type(
                session,
                actor=SYSTEM,
                data=AppointmentTypeWrite(
                    name=name, duration_minutes=minutes, buffer_after_minutes=buffer
                ),
            )
            type_ids.append(kind.id)
        clinic = Clinic(
            organization_id=organization.id,
            location_id=location.id,
            provider_ids=tuple(provider_ids),
            type_ids=tuple(type_ids),
            patient_ids=(),
            desk=actor_for(desk_user),
            today=today,
        )
    patient_ids = await load_patients(db, clinic.organization_id, providers * PATIENTS_PER_PROVIDER)
    return replace(clinic, patient_ids=tuple(patient_ids)), hours


async def load_patients(db: Database, organization_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """Plain patients (names, birth date, MRN, search name); no name-index rows, since
    nothing here searches them."""
    rng = random.Random(SEED)
    ids = [new_id() for _ in range(count)]
    rows: list[dict[str, Any]] = []
    for sequence, patient_id in enumerate(ids, start=1):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        rows.append(
            {
                "id": patient_id,
                "organization_id": organization_id,
                "version": 1,
                "mrn": format_mrn(sequence),
                "given_name": given,
                "family_name": family,
                "sex_at_birth": SexAtBirth.UNKNOWN,
                "birth_date": date(1940, 1, 1) + timedelta(days=rng.randint(0, 80 * 365)),
                "country": "US",
                "search_name": search_name_of(Patient(given_name=given, family_name=family)),
            }
        )
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        for start in range(0, len(rows), BATCH):
            await session.execute(insert(table(Patient)), rows[start : start + BATCH])
    return ids


def local(day: date, at: clock) -> datetime:
    return datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)


def timeline(
    clinic: Clinic, provider_index: int, hours: Hours, history_days: int, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """One provider's appointments, back to back with gaps, inside their hours; each
    starts where the previous one's buffer ends (or later), so none overlap."""
    provider_id = clinic.provider_ids[provider_index]
    durations = [(minutes, buffer) for _name, minutes, buffer, _w in TYPES]
    weights = [weight for *_rest, weight in TYPES]
    for offset in range(-history_days, FUTURE_DAYS):
        day = clinic.today + timedelta(days=offset)
        keep = 1.0 if offset < 0 else max(0.15, 0.9 - 0.03 * offset)
        for weekday, block_start, block_end in hours.blocks:
            if weekday != day.weekday():
                continue
            cursor, stop = local(day, block_start), local(day, block_end)
            while True:
                kind = rng.choices(range(len(TYPES)), weights)[0]
                minutes, buffer = durations[kind]
                start = cursor
                end = start + timedelta(minutes=minutes)
                busy_until = end + timedelta(minutes=buffer)
                if busy_until > stop:
                    break
                cursor = busy_until + timedelta(minutes=rng.choice(GAPS))
                if rng.random() >= keep:
                    continue
                yield appointment_row(clinic, provider_id, kind, start, end, busy_until, rng)


def appointment_row(
    clinic: Clinic,
    provider_id: uuid.UUID,
    kind: int,
    start: datetime,
    end: datetime,
    busy_until: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    status, holds, cancelled_at, changed_at = AppointmentStatus.BOOKED, True, None, None
    if start.date() < clinic.today:
        draw = rng.random()
        if draw < 0.07:
            status, holds, changed_at = AppointmentStatus.NOSHOW, False, end
        elif draw < 0.15:
            status, holds = AppointmentStatus.CANCELLED, False
            cancelled_at = changed_at = start - timedelta(hours=rng.randint(2, 72))
        else:
            status = AppointmentStatus.FULFILLED
    return {
        "id": new_id(),
        "organization_id": clinic.organization_id,
        "version": 1,
        "patient_id": rng.choice(clinic.patient_ids),
        "provider_id": provider_id,
        "location_id": clinic.location_id,
        "type_id": clinic.type_ids[kind],
        "starts_at": start,
        "ends_at": end,
        "busy_until": busy_until,
        "status": status,
        "holds_slot": holds,
        "booked_by_id": clinic.desk.user_id,
        "booked_via": "staff",
        "cancelled_at": cancelled_at,
        "cancelled_by_id": clinic.desk.user_id if cancelled_at else None,
        "cancel_reason": "Patient called to cancel" if cancelled_at else None,
        "previous_status": AppointmentStatus.BOOKED if changed_at else None,
        "status_changed_at": changed_at,
    }


async def load_appointments(
    db: Database, clinic: Clinic, hours: list[Hours], history_days: int
) -> int:
    rng = random.Random(SEED + 1)
    rows: list[dict[str, Any]] = []
    total = 0

    async def flush() -> None:
        async with session_scope(db) as session:
            await scope_to_tenant(session, clinic.organization_id)
            await session.execute(insert(table(Appointment)), rows)
        rows.clear()

    for index, week in enumerate(hours):
        for row in timeline(clinic, index, week, history_days, rng):
            rows.append(row)
            total += 1
            if len(rows) >= BATCH:
                await flush()
    if rows:
        await flush()
    return total


# --- the requests ----------------------------------------------------------------------

Call = Callable[[AsyncSession], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Request:
    kind: str
    label: str
    call: Call


def week_view(clinic: Clinic, rng: random.Random, history_days: int) -> Request:
    first = clinic.today - timedelta(days=history_days)
    first_monday = first + timedelta(days=-first.weekday() % 7)
    weeks = (history_days + FUTURE_DAYS) // 7 - 1
    monday = first_monday + timedelta(weeks=rng.randint(0, max(0, weeks - 1)))
    provider_id = rng.choice(clinic.provider_ids)
    start = datetime.combine(monday, clock(0), tzinfo=ZONE)

    async def call(session: AsyncSession) -> int:
        found = await calendar.appointments_between(
            session,
            actor=clinic.desk,
            start=start,
            end=start + timedelta(days=7),
            provider_id=provider_id,
        )
        return len(found)

    return Request(KINDS[0], f"week of {monday} provider {provider_id}", call)


def day_view(clinic: Clinic, rng: random.Random, history_days: int) -> Request:
    day = clinic.today + timedelta(days=rng.randint(-history_days, FUTURE_DAYS - 1))
    if day.weekday() == 6:
        day -= timedelta(days=1)
    start = datetime.combine(day, clock(0), tzinfo=ZONE)

    async def call(session: AsyncSession) -> int:
        found = await calendar.appointments_between(
            session,
            actor=clinic.desk,
            start=start,
            end=datetime.combine(day + timedelta(days=1), clock(0), tzinfo=ZONE),
            location_id=clinic.location_id,
        )
        return len(found)

    return Request(KINDS[1], f"day {day}", call)


def slot_query(clinic: Clinic, rng: random.Random, *, one_provider: bool) -> SlotQuery:
    start = clinic.today + timedelta(days=rng.randint(0, 20))
    return SlotQuery(
        type_id=rng.choice(clinic.type_ids),
        location_id=clinic.location_id,
        provider_id=rng.choice(clinic.provider_ids) if one_provider else None,
        start=start,
        end=start + timedelta(days=SLOT_RANGE_DAYS),
        limit=10,
    )


def free_slots(clinic: Clinic, rng: random.Random, *, one_provider: bool) -> Request:
    query = slot_query(clinic, rng, one_provider=one_provider)

    async def call(session: AsyncSession) -> int:
        return len(await slots.find_slots(session, query=query))

    kind = KINDS[2] if one_provider else KINDS[3]
    return Request(kind, f"from {query.start} type {query.type_id}", call)


async def booking_of_a_free_slot(
    db: Database, clinic: Clinic, rng: random.Random
) -> AppointmentCreate | None:
    """A free slot of a random provider and type, found as the booking screen would (not
    timed), as a booking request for a random patient."""
    query = slot_query(clinic, rng, one_provider=True)
    async with db.sessionmaker() as session, unit_of_work(session):
        await scope_to_tenant(session, clinic.organization_id)
        found = await slots.find_slots(session, query=query)
    if not found:
        return None
    slot = rng.choice(found)
    return AppointmentCreate(
        patient_id=rng.choice(clinic.patient_ids),
        provider_id=slot.provider_id,
        location_id=slot.location_id,
        type_id=query.type_id,
        starts_at=slot.starts_at,
    )


def book(clinic: Clinic, data: AppointmentCreate) -> Request:
    async def call(session: AsyncSession) -> int:
        await booking.book(session, actor=clinic.desk, data=data)
        return 1

    return Request(KINDS[4], f"{data.starts_at.isoformat()} provider {data.provider_id}", call)


# --- measuring -------------------------------------------------------------------------


async def run_request(db: Database, clinic: Clinic, request: Request) -> tuple[float, int]:
    """One request: own session, tenant scope, one transaction. Reads time the service
    call; a booking times the call and the commit."""
    async with db.sessionmaker() as session:
        await scope_to_tenant(session, clinic.organization_id)
        if request.kind == KINDS[4]:
            started = time.perf_counter()
            async with unit_of_work(session):
                rows = await request.call(session)
            return time.perf_counter() - started, rows
        async with unit_of_work(session):
            started = time.perf_counter()
            rows = await request.call(session)
            elapsed = time.perf_counter() - started
        return elapsed, rows


async def rounds(
    db: Database, clinic: Clinic, count: int, seed: int, history_days: int
) -> AsyncIterator[Request]:
    rng = random.Random(seed)
    for _ in range(count):
        yield week_view(clinic, rng, history_days)
        yield day_view(clinic, rng, history_days)
        yield free_slots(clinic, rng, one_provider=True)
        yield free_slots(clinic, rng, one_provider=False)
        data = await booking_of_a_free_slot(db, clinic, rng)
        if data is not None:
            yield book(clinic, data)


async def measure(
    db: Database, clinic: Clinic, count: int, history_days: int
) -> dict[str, Outcome]:
    async for request in rounds(db, clinic, WARMUP_ROUNDS, SEED + 2, history_days):
        await run_request(db, clinic, request)
    # The generated rows are the benchmark's, not the server's: keep full garbage
    # collections from walking them in the middle of a request.
    gc.collect()
    gc.freeze()
    outcomes = {kind: Outcome() for kind in KINDS}
    async for request in rounds(db, clinic, count, SEED + 3, history_days):
        outcome = outcomes[request.kind]
        try:
            seconds, rows = await run_request(db, clinic, request)
        except Exception as error:  # a refused booking is counted, not fatal
            outcome.failures += 1
            print(f"  {request.kind}: {type(error).__name__}: {error}", flush=True)
            continue
        outcome.seconds.append(seconds)
        outcome.rows.append(rows)
        outcome.slowest = max(outcome.slowest, (seconds, request.label))
    return outcomes


async def explain(db: Database, clinic: Clinic, history_days: int) -> None:
    """One request of each kind (rolled back) with its statements and their times, and the
    plan of the slowest statement."""
    requests: dict[str, Request] = {}
    async for request in rounds(db, clinic, 1, SEED + 4, history_days):
        requests[request.kind] = request
    for kind, request in requests.items():
        print(f"  {kind}: {request.label}")
        async with db.sessionmaker() as session:
            await scope_to_tenant(session, clinic.organization_id)
            async with captured_statements(db) as captured:
                await request.call(session)
            for seconds, statement, _params in captured:
                print(f"    {seconds * 1000:8.2f} ms  {' '.join(statement.split())[:110]}")
            seconds, statement, params = max(captured, key=lambda c: c[0])
            prefix = "EXPLAIN QUERY PLAN " if db.kind == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
            if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE")):
                connection = await session.connection()
                rows = (await connection.exec_driver_sql(prefix + statement, params)).all()
                print(f"    plan of the slowest statement ({seconds * 1000:.2f} ms):")
                for row in rows:
                    print("      " + " | ".join(str(value) for value in row))
            await session.rollback()


# --- databases -------------------------------------------------------------------------


async def status_counts(db: Database, clinic: Clinic) -> dict[str, int]:
    async with session_scope(db) as session:
        await scope_to_tenant(session, clinic.organization_id)
        rows = await session.execute(
            select(Appointment.status, func.count()).group_by(Appointment.status)
        )
        return {str(status): int(count) for status, count in rows.all()}


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> RunResult:
    """Migrate and load as the owner, then run the requests as the application role."""
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    today = datetime.now(ZONE).date()
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        started = time.perf_counter()
        clinic, hours = await set_up(owner, args.providers, today)
        appointments = await load_appointments(owner, clinic, hours, args.history_days)
        await analyze(owner)
        load_seconds = time.perf_counter() - started
        version = await owner.server_version()
        size = await database_size(owner)
        statuses = await status_counts(owner, clinic)
    finally:
        await owner.dispose()
    print(
        f"{owner.kind}: {args.providers} providers, {len(clinic.patient_ids):,} patients, "
        f"{appointments:,} appointments ({', '.join(f'{k} {v:,}' for k, v in statuses.items())})"
        f" loaded in {load_seconds:.1f} s; database {size / 2**20:.0f} MiB",
        flush=True,
    )
    db = create_database(app_url, pool_size=2)
    try:
        outcomes = await measure(db, clinic, args.queries, args.history_days)
        if args.explain:
            await explain(db, clinic, args.history_days)
    finally:
        await db.dispose()
    return RunResult(owner.kind, version, load_seconds, size, appointments, outcomes)


# --- report ----------------------------------------------------------------------------


def print_table(result: RunResult, providers: int) -> None:
    print()
    print(
        f"{result.database} {result.version}: {providers} providers, "
        f"{result.appointments:,} appointments, load {result.load_seconds:.1f} s, "
        f"database {result.size_bytes / 2**20:.0f} MiB"
    )
    header = f"{'kind':<27}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'rows':>7}"
    print(header)
    print("-" * len(header))
    for kind, outcome in result.outcomes.items():
        if not outcome.seconds:
            print(f"{kind:<27}  (none; {outcome.failures} failed)")
            continue
        late = " *" if percentile(outcome.seconds, 0.95) * 1000 > TARGET_MS else ""
        failed = f"  {outcome.failures} failed" if outcome.failures else ""
        print(
            f"{kind:<27}{len(outcome.seconds):>5}"
            f"{percentile(outcome.seconds, 0.5) * 1000:>9.1f}"
            f"{percentile(outcome.seconds, 0.95) * 1000:>9.1f}"
            f"{max(outcome.seconds) * 1000:>9.1f}"
            f"{statistics.mean(outcome.rows):>7.1f}{late}{failed}"
        )
        print(f"{'':<27}slowest: {outcome.slowest[1]}")
    print(f"(rows: mean appointments or slots returned; * p95 above the {TARGET_MS:.0f} ms target)")


async def main_async(args: argparse.Namespace) -> None:
    results = await on_each(
        args.database,
        lambda owner, app: run_on(owner, app, args),
        name="scheduling",
        keep=args.keep,
        time_limit=args.time_limit,
    )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite_version()} (bundled)"
    )
    print(
        f"requests: {args.queries} rounds of every kind after {WARMUP_ROUNDS} warm-up rounds, "
        f"seed {SEED}; {args.history_days} days of history + {FUTURE_DAYS} ahead; ANALYZE"
    )
    for result in results:
        print_table(result, args.providers)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--providers", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300, help="rounds (one of each kind)")
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--quick", action="store_true", help="3 providers, 60 days, 30 rounds: a smoke run"
    )
    parser.add_argument(
        "--explain", action="store_true", help="show one request of each kind with its plan"
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database file")
    parser.add_argument(
        "--time-limit", type=float, default=600, help="seconds per database before giving up"
    )
    args = parser.parse_args()
    if args.quick:
        args.providers, args.history_days, args.queries = 3, 60, 30
    # Nothing here is encrypted, but the column types need a keyring; a throwaway one.
    configure_field_encryption(FieldKeyring(new_field_encryption_key()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
