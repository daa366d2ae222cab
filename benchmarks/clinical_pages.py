"""The chart and the consultation page of a patient with a long history, on SQLite and
PostgreSQL: 500 consultations (499 finished and the one open now), 2,000 vital-sign
observations (a set of four in each), a note and a diagnosis in each, and 200
prescriptions (two in every fifth consultation; those older than 25 consultations
discontinued, so about ten are on the medication list, as on a real chart).

The history is written through the clinical services, as a doctor writes it (audit
entries, the chart's medication list, the safety checks at each prescription), in
transactions of 25 consultations; then the consultations' start and end times and the
vitals' times are moved back, one consultation a week (the services stamp "now"). The
load is timed and reported but not what is measured. ANALYZE runs after it.

What is timed: ``GET`` of each page, in process through the ASGI application
(``httpx.ASGITransport``, the production session dependency, a signed-in doctor's
session cookie, htmx's header for fragments), on PostgreSQL as the application role
under row-level security. The time is the request's server-side time (no network). Pages:

* chart           ``/patients/{id}``: the chart page
* consultations   ``/patients/{id}/consultations``: the chart's list (htmx, on load)
* appointments    ``/scheduling/patients/{id}/appointments``: the chart's other fragment
* vitals trends   ``/patients/{id}/vitals``: the chart's vitals (every set, charted)
* consultation    ``/encounters/{id}``: the open consultation with every section
* closed consult. ``/encounters/{id}``: a finished one (read-only)

Rounds of every page in turn after warm-up rounds; p50/p95/max per page, the median CPU
time of this process per request (the application, the client's small share and, on
SQLite, the database; steadier than wall time on a shared machine), the SQL statements
of one request of each (``--statements`` prints them), and the page's size.
``--profile PAGE`` adds a cProfile of 20 requests of one page; ``--dump DIR`` writes the
pages' HTML. The PostgreSQL cluster is the test suite's (``fsync`` off).

Run: uv run python benchmarks/clinical_pages.py [--database sqlite|postgresql|both]
     [--rounds 100] [--encounters 500] [--statements]
Bounded: ``--time-limit`` seconds per database; the SQLite file and the PostgreSQL
cluster are removed at the end; nothing listens anywhere (no server: ASGI in process).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from harness import (
    REPO_ROOT,
    add_provider,
    analyze,
    captured_statements,
    letters,
    on_each,
    percentile,
)
from request_profile import browser_assets
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.clinical.models import ClinicalNote, Drug, Encounter, Observation, Prescription
from clinicdesk.clinical.schemas.diagnoses import DiagnosisWrite
from clinicdesk.clinical.schemas.encounters import EncounterStart
from clinicdesk.clinical.schemas.notes import NoteDraft
from clinicdesk.clinical.schemas.prescriptions import PrescriptionStop, PrescriptionWrite
from clinicdesk.clinical.schemas.vitals import VitalsRecord
from clinicdesk.clinical.service import (
    closing,
    diagnoses,
    drugs,
    encounters,
    notes,
    prescriptions,
    vitals,
)
from clinicdesk.clinical.vocabulary import EncounterKind, NoteKind
from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import User
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations, sessions
from clinicdesk.identity.service.common import actor_for
from clinicdesk.identity.service.organizations import create_organization
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service import records

DIAGNOSES = ("J06.9", "I10", "E11.9", "J45.909", "R51.9", "N39.0", "K21.9", "F41.1")
DRUGS = ("amoxicillin", "lisinopril", "atorvastatin", "metformin", "omeprazole", "cetirizine")
REASONS = ("Cough and sore throat", "Blood pressure review", "Diabetes review", "Headache")
BATCH = 25  # consultations per transaction while loading
KEEP_ACTIVE = 25  # prescriptions of the last this many consultations stay active
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Chart:
    organization_id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID
    open_encounter_id: uuid.UUID
    closed_encounter_id: uuid.UUID
    counts: dict[str, int]
    load_seconds: float


async def clinic(session: Any, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A new organization with one location; returns their ids (the session is scoped)."""
    organization = await create_organization(session, name=name)
    location = await organizations.create_location(
        session, actor=SYSTEM, data=LocationWrite(name="Main")
    )
    return organization.id, location.id


async def new_doctor(
    session: Any, organization_id: uuid.UUID, location_id: uuid.UUID, n: int, password: str | None
) -> User:
    from clinicdesk.identity.permissions import Role
    from clinicdesk.identity.service import users

    user = await users.create_user(
        session,
        actor=SYSTEM,
        organization_id=organization_id,
        email=f"doctor{n}@bench.example",
        full_name=f"Doctor {letters(n)}",
        roles=[Role.DOCTOR],
        password=password,
    )
    await add_provider(
        session,
        organization_id=organization_id,
        location_id=location_id,
        display_name=f"Dr. {letters(n)}",
        user=user,
        blocks=(),
    )
    return user


async def consultation(
    session: Any,
    doctor: Actor,
    *,
    patient_id: uuid.UUID,
    location_id: uuid.UUID,
    index: int,
    drug_ids: dict[str, int],
    finish: bool,
) -> tuple[Encounter, list[uuid.UUID]]:
    """One consultation as the doctor writes it: vitals, the note, a diagnosis, two
    prescriptions in every fifth; signed and finished unless ``finish`` is false."""
    encounter = await encounters.start_encounter(
        session,
        actor=doctor,
        data=EncounterStart(
            patient_id=patient_id,
            kind=EncounterKind.IN_PERSON,
            location_id=location_id,
            reason=REASONS[index % len(REASONS)],
        ),
    )
    await vitals.record_vitals(
        session,
        actor=doctor,
        encounter_id=encounter.id,
        data=VitalsRecord(
            units="metric",
            heart_rate=Decimal(60 + index % 30),
            systolic=Decimal(112 + index % 35),
            diastolic=Decimal(70 + index % 20),
            temperature=Decimal("36.4") + Decimal(index % 9) / 10,
        ),
    )
    note = await notes.save_main_draft(
        session,
        actor=doctor,
        encounter_id=encounter.id,
        data=NoteDraft(
            subjective=f"{REASONS[index % len(REASONS)]} for {1 + index % 6} days.",
            objective="Alert, comfortable. Chest clear, heart sounds normal.",
            assessment="Likely self-limiting; see diagnosis.",
            plan="Advice given; review if not better in a week.",
        ),
        kind=NoteKind.SOAP,
        expected_version=None,
    )
    await diagnoses.add_diagnosis(
        session,
        actor=doctor,
        encounter_id=encounter.id,
        data=DiagnosisWrite(icd10_code=DIAGNOSES[index % len(DIAGNOSES)]),
    )
    prescribed = []
    if index % 5 == 0:
        for k in range(2):
            key = DRUGS[(index // 5 * 2 + k) % len(DRUGS)]
            rx = await prescriptions.prescribe(
                session,
                actor=doctor,
                encounter_id=encounter.id,
                data=PrescriptionWrite(
                    drug_id=drug_ids[key],
                    dose=Decimal(1),
                    duration_days=7,
                    override_reason="Benchmark history: reviewed.",
                ),
            )
            prescribed.append(rx.id)
    if finish:
        await notes.sign_note(session, actor=doctor, note_id=note.id, expected_version=note.version)
        await closing.finish_encounter(session, actor=doctor, encounter_id=encounter.id)
    return encounter, prescribed


async def without_stopped_medications(db: Database, chart: Chart) -> None:
    """What if (``--what-if-active-medications``): the chart's medication list without
    its stopped entries (the prescriptions keep their rows). Not a product change: it
    shows how much of the chart page's time is that list."""
    from sqlalchemy import delete

    from clinicdesk.patients.models import Medication

    async with session_scope(db) as session:
        await scope_to_tenant(session, chart.organization_id)
        stopped = select(Medication.id).where(
            Medication.patient_id == chart.patient_id, Medication.status != "active"
        )
        await session.execute(
            update(Prescription)
            .where(Prescription.medication_entry_id.in_(stopped))
            .values(medication_entry_id=None)
        )
        await session.execute(delete(Medication).where(Medication.id.in_(stopped)))


async def build_chart(db: Database, count: int) -> Chart:
    """The patient and its history, written through the services (see the docstring)."""
    started = time.perf_counter()
    async with session_scope(db) as session:
        organization_id, location_id = await clinic(session, "Chart Benchmark Clinic")
        user = await new_doctor(session, organization_id, location_id, 1, None)
        doctor = actor_for(user)
        patient = await records.register_patient(
            session,
            actor=doctor,
            data=PatientCreate(
                given_name="Longa", family_name="Historia", birth_date=date(1950, 5, 6)
            ),
        )
        drug_ids = {
            d.key: d.id for d in await session.scalars(select(Drug).where(Drug.key.in_(DRUGS)))
        }
    made: list[uuid.UUID] = []
    by_encounter: dict[int, list[uuid.UUID]] = {}
    for first in range(0, count, BATCH):
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            for index in range(first, min(first + BATCH, count)):
                encounter, prescribed = await consultation(
                    session,
                    doctor,
                    patient_id=patient.id,
                    location_id=location_id,
                    index=index,
                    drug_ids=drug_ids,
                    finish=index < count - 1,
                )
                made.append(encounter.id)
                by_encounter[index] = prescribed
                for old in by_encounter.pop(index - KEEP_ACTIVE, []):
                    await prescriptions.discontinue(
                        session,
                        actor=doctor,
                        prescription_id=old,
                        data=PrescriptionStop(reason="Course completed."),
                    )
        print(f"  {min(first + BATCH, count)} consultations", end="\r", flush=True)
    print()
    # One consultation a week back from now, the open one today; the services stamped
    # everything "now" (a benchmark's shortcut, not audited).
    now = datetime.now(UTC)
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        for index, encounter_id in enumerate(made[:-1]):
            at = now - (count - 1 - index) * WEEK
            await session.execute(
                update(Encounter)
                .where(Encounter.id == encounter_id)
                .values(started_at=at, finished_at=at + timedelta(minutes=15))
            )
            await session.execute(
                update(Observation)
                .where(Observation.encounter_id == encounter_id)
                .values(effective_at=at + timedelta(minutes=2))
            )
        counts = {
            "encounters": len(made),
            "observations": len(
                list(
                    await session.scalars(
                        select(Observation.id).where(Observation.patient_id == patient.id)
                    )
                )
            ),
            "notes": len(
                list(
                    await session.scalars(
                        select(ClinicalNote.id).where(ClinicalNote.encounter_id.in_(made))
                    )
                )
            ),
            "prescriptions": len(
                list(
                    await session.scalars(
                        select(Prescription.id).where(Prescription.patient_id == patient.id)
                    )
                )
            ),
        }
    return Chart(
        organization_id,
        user.id,
        patient.id,
        made[-1],
        made[len(made) // 2],
        counts,
        time.perf_counter() - started,
    )


def pages_of(chart: Chart) -> dict[str, tuple[str, bool]]:
    """Page name -> (path, asked by htmx)."""
    p = chart.patient_id
    return {
        "chart": (f"/patients/{p}", False),
        "consultations": (f"/patients/{p}/consultations", True),
        "appointments": (f"/scheduling/patients/{p}/appointments", True),
        "vitals trends": (f"/patients/{p}/vitals", False),
        "consultation (open)": (f"/encounters/{chart.open_encounter_id}", False),
        "consultation (closed)": (f"/encounters/{chart.closed_encounter_id}", False),
    }


def app_settings(directory: Path, owner_url: str, app_url: str, field_key: str) -> Settings:
    return Settings(
        data_dir=directory,
        database_url=app_url,
        database_owner_url=owner_url if owner_url != app_url else None,
        field_encryption_key=field_key,  # type: ignore[arg-type]
        rate_limit_general="10000000/minute",
        log_level="WARNING",
        assets_dir=browser_assets(REPO_ROOT),
    )


async def signed_in(app: Any, db: Database, chart: Chart) -> httpx.AsyncClient:
    """A browser signed in as the doctor (second factor passed)."""
    config = app.state.identity
    async with session_scope(db) as session:
        await scope_to_tenant(session, chart.organization_id)
        user = await session.get(User, chart.doctor_id)
        assert user is not None
        token, _ = await sessions.start_web_session(
            session, user=user, config=config, mfa_verified=True
        )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=60
    )
    client.cookies.set(config.session_cookie, token)
    return client


@dataclass
class PageResult:
    database: str
    chart: Chart
    timings: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # this process's CPU ms
    gc_ms: dict[str, list[float]] = field(default_factory=dict)  # full collections
    statements: dict[str, int] = field(default_factory=dict)
    statement_ms: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    migrate_seconds: float = 0.0


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> PageResult:
    from clinicdesk.app import create_app

    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    try:
        began = time.perf_counter()
        await migrations.upgrade(owner, grant_to=app_role)
        migrate_seconds = time.perf_counter() - began
        print(f"{owner.kind}: migrated in {migrate_seconds:.1f} s; loading ...", flush=True)
        chart = await build_chart(owner, args.encounters)
        if args.what_if_active_medications:
            await without_stopped_medications(owner, chart)
        await analyze(owner)
        print(f"{owner.kind}: {chart.counts} in {chart.load_seconds:.1f} s", flush=True)
    finally:
        await owner.dispose()
    result = PageResult(owner.kind, chart, migrate_seconds=migrate_seconds)
    # What loading left in this process (the migrations' vocabularies, the drug
    # knowledge) is out of the collector's sight, as a server's imports are in its
    # workers (``gc.freeze`` before the fork); the application built next is not.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="clinicdesk-pages-bench-") as directory:
        app = create_app(app_settings(Path(directory), owner_url, app_url, args.field_key))
        db: Database = app.state.runtime.db
        client = await signed_in(app, db, chart)
        try:
            pages = pages_of(chart)
            for name, (path, htmx) in pages.items():
                headers = {"HX-Request": "true"} if htmx else {}
                answer = await client.get(path, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: GET {path} answered {answer.status_code}")
                result.sizes[name] = len(answer.content)
                if args.dump:
                    args.dump.mkdir(parents=True, exist_ok=True)
                    (args.dump / f"{owner.kind}-{name.replace(' ', '-')}.html").write_bytes(
                        answer.content
                    )
                async with captured_statements(db) as captured:
                    await client.get(path, headers=headers)
                result.statements[name] = len(captured)
                result.statement_ms[name] = sum(s for s, _, _ in captured) * 1000
                if args.statements:
                    print(f"\n--- {owner.kind} {name}: {len(captured)} statements")
                    for seconds, statement, _ in captured:
                        text = " ".join(statement.split())
                        print(f"  {seconds * 1000:7.2f} ms  {text[:160]}")
            if args.profile:
                await profile(client, pages, args.profile)
            # The full collections the garbage collector makes meanwhile, by page: the
            # pages that allocate most pay for scanning everything the process holds.
            pauses: list[float] = []
            gc_started = [0.0]

            def on_gc(phase: str, info: dict[str, int]) -> None:
                if info["generation"] != 2:
                    return
                if phase == "start":
                    gc_started[0] = time.perf_counter()
                else:
                    pauses.append((time.perf_counter() - gc_started[0]) * 1000)

            gc.callbacks.append(on_gc)
            for round_ in range(args.rounds + args.warmup):
                for name, (path, htmx) in pages.items():
                    headers = {"HX-Request": "true"} if htmx else {}
                    cpu = time.process_time()
                    pauses.clear()
                    begun = time.perf_counter()
                    answer = await client.get(path, headers=headers)
                    elapsed = (time.perf_counter() - begun) * 1000
                    cpu = (time.process_time() - cpu) * 1000
                    if round_ >= args.warmup and pauses:
                        result.gc_ms.setdefault(name, []).append(sum(pauses))
                    if answer.status_code != 200:
                        raise SystemExit(f"{name}: answered {answer.status_code}")
                    if round_ >= args.warmup:
                        result.timings.setdefault(name, []).append(elapsed)
                        result.cpu.setdefault(name, []).append(cpu)
        finally:
            gc.unfreeze()
            if on_gc in gc.callbacks:
                gc.callbacks.remove(on_gc)
            await client.aclose()
            await db.dispose()
    return result


async def profile(client: httpx.AsyncClient, pages: dict[str, tuple[str, bool]], name: str) -> None:
    """cProfile over 20 requests of one page (after the statements' request): the
    functions with the most time of their own, and the most time below them."""
    import cProfile
    import pstats

    path, htmx = pages[name]
    headers = {"HX-Request": "true"} if htmx else {}
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        await client.get(path, headers=headers)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"\n--- profile of {name}, 20 requests")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def report(results: list[PageResult], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )
    for r in results:
        print(
            f"\n{r.database}: {r.chart.counts}; loaded in {r.chart.load_seconds:.1f} s; "
            f"{args.rounds} rounds"
        )
        header = (
            f"{'page':<24}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
            f"{'CPU ms':>8}{'SQL':>6}{'SQL ms':>9}{'KiB':>7}{'GC2':>5}{'GC2 ms':>8}"
        )
        print(header)
        print("-" * len(header))
        for name, values in r.timings.items():
            print(
                f"{name:<24}{percentile(values, 0.5):>9.1f}{percentile(values, 0.95):>9.1f}"
                f"{max(values):>9.1f}{percentile(r.cpu[name], 0.5):>8.1f}"
                f"{r.statements[name]:>6}{r.statement_ms[name]:>9.1f}"
                f"{r.sizes[name] / 1024:>7.0f}"
                f"{len(r.gc_ms.get(name, [])):>5}{sum(r.gc_ms.get(name, [])):>8.0f}"
            )


async def main_async(args: argparse.Namespace) -> None:
    drugs.knowledge()  # parsed once per process, as in the server

    async def run(owner_url: str, app_url: str) -> PageResult:
        return await run_on(owner_url, app_url, args)

    results = await on_each(
        args.database, run, name="pages", keep=args.keep, time_limit=args.time_limit
    )
    report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--encounters", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--statements", action="store_true", help="print each page's SQL")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument(
        "--what-if-active-medications",
        action="store_true",
        help="remove the stopped entries of the chart's medication list before measuring",
    )
    parser.add_argument("--profile", help="cProfile 20 requests of this page (its name)")
    parser.add_argument("--dump", type=Path, help="write each page's HTML into this folder")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds per database")
    args = parser.parse_args()
    args.field_key = new_field_encryption_key()
    configure_field_encryption(FieldKeyring(args.field_key))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
