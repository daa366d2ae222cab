"""Saving in the consultation under load: N clinicians at once, each in a consultation of
their own, saving vital-sign sets and note drafts through a real `clinicdesk serve`.

A fresh database (PostgreSQL by default: the test suite's throwaway cluster on 127.0.0.1,
the server connecting as the application role under row-level security; or SQLite) is
migrated and set up in process through the services: one organization, N doctors (each a
provider), N patients each with ``--history`` past consultations (vitals, a signed note,
a diagnosis), and one consultation open per doctor with its own patient. Then the server
is started (``--workers``, 2 by default on PostgreSQL, 1 on SQLite) and every doctor
signs in through the sign-in form (session cookie, as a browser) and opens the
consultation page once (its CSRF token and the note's draft version).

Then, for ``--seconds``, every clinician in turn (all concurrently, one asyncio client
process) saves what the page saves, as htmx sends it:

* vitals  ``POST /encounters/{id}/vitals`` (the section's form: pulse, blood pressure,
          temperature, SpO2); answered with the section again, "Vitals saved." checked
* note    ``POST /encounters/{id}/note`` (the autosave: SOAP fields, the draft version
          from the last answer; the text grows by a sentence each time); answered with the
          save status, which must carry no error and the next version

in the ratio ``--note-share`` (note autosaves are the more frequent: every pause in
typing), with a pause of ``--pause`` seconds on average between one clinician's saves
(uniform 0 to twice that: a person typing, not a loop). The default, 3 s, is the note's
own autosave delay (``keyup changed delay:3s``): a clinician typing without stopping
saves about that often; ``--pause 1`` is a harder load, ``--pause 0`` saturates the
server. Before the server starts, one clinician alone saves ``--sequential`` times of
each kind through the ASGI application in this process (the uncontended time, the
statements of a save with ``--statements``, a profile with ``--profile``).

The PostgreSQL cluster is the test suite's: ``fsync``, ``synchronous_commit`` and
``full_page_writes`` are off, so a commit never waits for the disk as it would in
production. Reported per kind: saves, errors (any answer not 200, a refusal in the
answer, a transport error), the latency seen by the client (p50/p95/p99/max) and the
server's own time from its request log (p50/p95/p99), saves per second, and the CPU
time per save of the server's processes and PostgreSQL's.

Run: uv run python benchmarks/clinical_saves.py [--clinicians 50] [--seconds 30]
     [--pause 3] [--database postgresql|sqlite|both] [--workers 2] [--statements]
Needs nothing beyond the project (no wrk). Bounded: the run stops after ``--seconds``
(plus the answers still awaited), each database has a time limit, and the server, the
cluster and the temporary files are removed at the end, also after Ctrl+C; nothing
listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from clinical_pages import app_settings, clinic, consultation, new_doctor
from harness import REPO_ROOT, analyze, captured_statements, on_each, percentile
from http_load import CSRF_FIELD, Server, by_route, postmaster_of, server_env, tree_cpu_seconds
from request_profile import browser_assets
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.clinical.models import Drug
from clinicdesk.clinical.schemas.encounters import EncounterStart
from clinicdesk.clinical.service import encounters
from clinicdesk.clinical.vocabulary import EncounterKind
from clinicdesk.core import migrations
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import User
from clinicdesk.identity.passwords import hash_password
from clinicdesk.identity.service import sessions
from clinicdesk.identity.service.common import actor_for
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service import records

PASSWORD = "quiet lantern orbit maple"
DRAFT_VERSION = re.compile(r'name="draft_version" value="(\d*)"')
FAMILY_NAMES = ("Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Haddad")


@dataclass(frozen=True)
class Desk:
    email: str
    encounter_id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID


async def set_up(db: Database, clinicians: int, history: int) -> list[Desk]:
    from harness import letters

    async with session_scope(db) as session:
        organization_id, location_id = await clinic(session, "Saves Benchmark Clinic")
        drug_ids = {d.key: d.id for d in await session.scalars(select(Drug))}
    # One argon2 hash for everyone (the same password): 50 hashes would take the
    # machine's two cores for ten seconds and measure nothing of interest here.
    password_hash = await hash_password(PASSWORD)
    desks = []
    for n in range(clinicians):
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            user = await new_doctor(session, organization_id, location_id, n + 1, None)
            await session.execute(
                update(User).where(User.id == user.id).values(password_hash=password_hash)
            )
            doctor = actor_for(user)
            patient = await records.register_patient(
                session,
                actor=doctor,
                data=PatientCreate(
                    given_name=f"Ana {letters(n)}",
                    family_name=FAMILY_NAMES[n % len(FAMILY_NAMES)],
                    birth_date=date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
                ),
            )
            for index in range(history):
                await consultation(
                    session,
                    doctor,
                    patient_id=patient.id,
                    location_id=location_id,
                    index=index + 1,  # never a fifth: no prescriptions in this history
                    drug_ids=drug_ids,
                    finish=True,
                )
            encounter = await encounters.start_encounter(
                session,
                actor=doctor,
                data=EncounterStart(
                    patient_id=patient.id, kind=EncounterKind.IN_PERSON, location_id=location_id
                ),
            )
            desks.append(Desk(user.email, encounter.id, organization_id, user.id))
        print(f"  {n + 1} clinicians", end="\r", flush=True)
    print()
    return desks


@dataclass
class Clinician:
    desk: Desk
    client: httpx.AsyncClient
    csrf: str
    draft_version: str = ""
    sentences: int = 0


async def sign_in(url: str, desk: Desk) -> Clinician:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    form = await client.get("/login")
    match = CSRF_FIELD.search(form.text)
    if match is None:
        raise SystemExit(f"no CSRF token on the sign-in page: {form.text[:300]}")
    answer = await client.post(
        "/login", data={"email": desk.email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in of {desk.email} failed: {answer.status_code}")
    page = await client.get(f"/encounters/{desk.encounter_id}")
    token = CSRF_FIELD.search(page.text)
    version = DRAFT_VERSION.search(page.text)
    if page.status_code != 200 or token is None or version is None:
        raise SystemExit(f"the consultation page of {desk.email}: {page.status_code}")
    return Clinician(desk, client, token.group(1), version.group(1))


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {what}")


async def save(clinician: Clinician, kind: str, rng: random.Random, tally: Tally) -> None:
    headers = {"HX-Request": "true", "X-CSRF-Token": clinician.csrf}
    encounter = clinician.desk.encounter_id
    if kind == "vitals":
        path = f"/encounters/{encounter}/vitals"
        systolic = rng.randint(110, 150)
        data = {
            "csrf_token": clinician.csrf,
            "heart_rate": str(rng.randint(58, 96)),
            "systolic": str(systolic),
            "diastolic": str(min(systolic - 30, rng.randint(65, 95))),
            "temperature": f"{rng.uniform(36.2, 37.4):.1f}",
            "spo2": str(rng.randint(95, 99)),
        }
    else:
        path = f"/encounters/{encounter}/note"
        clinician.sentences += 1
        data = {
            "csrf_token": clinician.csrf,
            "draft_version": clinician.draft_version,
            "kind": "soap",
            "subjective": "Cough for five days, worse at night. " * clinician.sentences,
            "objective": "Chest clear. Throat mildly red.",
            "assessment": "Viral upper respiratory infection.",
            "plan": "Fluids, rest; return if fever persists.",
        }
    begun = time.perf_counter()
    try:
        answer = await clinician.client.post(path, data=data, headers=headers)
    except httpx.HTTPError as error:
        tally.error(kind, f"{type(error).__name__}: {error}")
        return
    elapsed = (time.perf_counter() - begun) * 1000
    tally.latencies.setdefault(kind, []).append(elapsed)
    if answer.status_code != 200:
        tally.error(kind, f"{answer.status_code} {answer.text[:200]}")
    elif kind == "vitals" and "Vitals saved." not in answer.text:
        tally.error(kind, f"not saved: {answer.text[:300]}")
    elif kind == "note":
        version = DRAFT_VERSION.search(answer.text)
        if "note-error" in answer.text or version is None or not version.group(1):
            tally.error(kind, f"refused: {answer.text[:300]}")
        if version is not None and version.group(1):
            clinician.draft_version = version.group(1)


async def drive(
    clinicians: list[Clinician], args: argparse.Namespace, tally: Tally
) -> tuple[float, int]:
    """Every clinician saving until the time is up; returns the seconds it took until the
    last answer, and the saves sent."""
    deadline = time.monotonic() + args.seconds
    sent = 0

    async def clinician_loop(clinician: Clinician, seed: int) -> None:
        nonlocal sent
        rng = random.Random(seed)
        # Spread the starts over one pause, as people do not all type at once.
        await asyncio.sleep(rng.uniform(0, args.pause))
        while time.monotonic() < deadline:
            kind = "note" if rng.random() < args.note_share else "vitals"
            sent += 1
            await save(clinician, kind, rng, tally)
            if args.pause:
                await asyncio.sleep(rng.uniform(0, 2 * args.pause))

    begun = time.monotonic()
    await asyncio.gather(*(clinician_loop(c, i) for i, c in enumerate(clinicians)))
    return time.monotonic() - begun, sent


async def in_process(
    owner_url: str, app_url: str, desks: list[Desk], args: argparse.Namespace
) -> dict[str, list[float]]:
    """One clinician alone, through the ASGI application in this process (no network, no
    other load of ours): ``--sequential`` saves of each kind one after the other, timed,
    and the SQL statements of one of each printed with ``--statements``."""
    from clinicdesk.app import create_app

    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="clinicdesk-saves-asgi-") as directory:
        app = create_app(app_settings(Path(directory), owner_url, app_url, args.field_key))
        db: Database = app.state.runtime.db
        config = app.state.identity
        desk = desks[-1]
        async with session_scope(db) as session:
            await scope_to_tenant(session, desk.organization_id)
            user = await session.get(User, desk.user_id)
            assert user is not None
            token, _ = await sessions.start_web_session(
                session, user=user, config=config, mfa_verified=True
            )
        csrf = app.state.csrf.token_for_session(token)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=60
        )
        client.cookies.set(config.session_cookie, token)
        clinician = Clinician(desk, client, csrf)
        page = await client.get(f"/encounters/{desk.encounter_id}")
        version = DRAFT_VERSION.search(page.text)
        clinician.draft_version = version.group(1) if version else ""
        rng = random.Random(1)
        tally = Tally()
        try:
            for kind in ("note", "vitals"):
                for _ in range(3):  # warm
                    await save(clinician, kind, rng, tally)
                async with captured_statements(db) as captured:
                    await save(clinician, kind, rng, tally)
                if args.statements:
                    print(f"\n--- {db.kind} {kind} save: {len(captured)} statements")
                    for seconds, statement, _ in captured:
                        print(f"  {seconds * 1000:7.2f} ms  {' '.join(statement.split())[:150]}")
                timings[f"{kind} statements"] = [float(len(captured))]
                tally.latencies.clear()
                profiler = None
                if args.profile == kind:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                cpu = time.process_time()
                for _ in range(args.sequential):
                    await save(clinician, kind, rng, tally)
                timings[f"{kind} cpu"] = [(time.process_time() - cpu) * 1000 / args.sequential]
                if profiler is not None:
                    import pstats

                    profiler.disable()
                    stats = pstats.Stats(profiler).strip_dirs()
                    print(f"\n--- profile of {args.sequential} {kind} saves")
                    stats.sort_stats("tottime").print_stats(30)
                    stats.sort_stats("cumulative").print_stats(60)
                timings[kind] = tally.latencies.get(kind, [])
            if tally.errors:
                print(f"in-process errors: {tally.examples}")
        finally:
            await client.aclose()
            await db.dispose()
    return timings


@dataclass
class SaveResult:
    database: str
    clinicians: int
    workers: int
    seconds: float
    sent: int
    tally: Tally
    routes: list[Any]
    app_cpu_ms: float
    db_cpu_ms: float
    load_average: tuple[float, float, float]
    problems: dict[str, int]
    alone: dict[str, list[float]]


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> SaveResult:
    database = "sqlite" if owner_url.startswith("sqlite") else "postgresql"
    workers = args.workers or (1 if database == "sqlite" else 2)
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    try:
        began = time.perf_counter()
        await migrations.upgrade(owner, grant_to=app_role)
        print(f"{database}: migrated in {time.perf_counter() - began:.1f} s", flush=True)
        began = time.perf_counter()
        desks = await set_up(owner, args.clinicians, args.history)
        await analyze(owner)
        print(
            f"{database}: {args.clinicians} clinicians, {args.history} past consultations "
            f"each, set up in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
    finally:
        await owner.dispose()
    alone = await in_process(owner_url, app_url, desks, args) if args.sequential else {}
    work = Path(tempfile.mkdtemp(prefix="clinicdesk-saves-bench-"))
    data_dir = work / "data"
    data_dir.mkdir()
    env = server_env(owner_url, app_url, data_dir, args)
    assets = browser_assets(REPO_ROOT)
    if assets is not None:
        env["CLINICDESK_ASSETS_DIR"] = str(assets)
    server = Server(env, data_dir, workers)
    clinicians: list[Clinician] = []
    try:
        await server.start()
        for desk in desks:  # one at a time: each sign-in verifies an argon2 hash
            clinicians.append(await sign_in(server.url, desk))
        postmaster = postmaster_of(app_url) if database == "postgresql" else None
        offset = server.log.stat().st_size
        app_before = tree_cpu_seconds(server.pid)
        db_before = tree_cpu_seconds(postmaster) if postmaster else 0.0
        tally = Tally()
        print(f"{database}: saving for {args.seconds} s ...", flush=True)
        seconds, sent = await drive(clinicians, args, tally)
        app_cpu = tree_cpu_seconds(server.pid) - app_before
        db_cpu = (tree_cpu_seconds(postmaster) - db_before) if postmaster else 0.0
        await asyncio.sleep(1)  # the server logs a request just after its answer
        records_ = [
            r
            for r in server.log_records(offset)
            if r.get("method") == "POST" and "/encounters/" in str(r.get("route", ""))
        ]
        answered = max(1, sum(len(v) for v in tally.latencies.values()))
        await server.stop()
        return SaveResult(
            database=database,
            clinicians=args.clinicians,
            workers=workers,
            seconds=seconds,
            sent=sent,
            tally=tally,
            routes=by_route(records_),
            app_cpu_ms=app_cpu * 1000 / answered,
            db_cpu_ms=db_cpu * 1000 / answered,
            load_average=os.getloadavg(),
            problems=server.problems(),
            alone=alone,
        )
    finally:
        for clinician in clinicians:
            await clinician.client.aclose()
        await server.stop()
        if args.keep:
            print(f"kept {work} (server log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(results: list[SaveResult], args: argparse.Namespace) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    for r in results:
        answered = sum(len(v) for v in r.tally.latencies.values())
        print(
            f"\n{r.database} ({r.workers} server process(es)): {r.clinicians} clinicians, "
            f"pause {args.pause} s on average, {r.seconds:.1f} s; {r.sent} saves sent, "
            f"{answered} answered ({answered / r.seconds:.1f}/s); CPU per save: server "
            f"{r.app_cpu_ms:.1f} ms, PostgreSQL {r.db_cpu_ms:.1f} ms; load average at the "
            f"end {r.load_average[0]:.1f} / {r.load_average[1]:.1f}"
        )
        header = (
            f"{'client side':<14}{'saves':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'p99 ms':>9}{'max ms':>9}"
        )
        print(header)
        print("-" * len(header))
        for kind, values in sorted(r.tally.latencies.items()):
            print(
                f"{kind:<14}{len(values):>7}{r.tally.errors.get(kind, 0):>8}"
                f"{percentile(values, 0.5):>9.1f}{percentile(values, 0.95):>9.1f}"
                f"{percentile(values, 0.99):>9.1f}{max(values):>9.1f}"
            )
        print(f"{'server side (request log)':<44}{'n':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'err':>6}")
        for route in r.routes:
            print(
                f"  {route.route:<42}{route.requests:>7}{route.p50_ms:>8.1f}"
                f"{route.p95_ms:>8.1f}{route.p99_ms:>8.1f}{route.errors:>6}"
            )
        for kind in ("note", "vitals"):
            values = r.alone.get(kind)
            if values:
                print(
                    f"  alone, in process: {kind} x{len(values)}: p50 "
                    f"{percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
                    f"{r.alone[f'{kind} statements'][0]:.0f} SQL statements, "
                    f"{r.alone[f'{kind} cpu'][0]:.1f} ms CPU (this process: the application "
                    "and the client)"
                )
        for example in r.tally.examples:
            print(f"  error: {example}")
        if r.problems:
            print(f"  server log: {r.problems}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql", "both"), default="postgresql"
    )
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--pause", type=float, default=3.0, help="mean seconds between one clinician's saves"
    )
    parser.add_argument("--note-share", type=float, default=0.7, help="share of note autosaves")
    parser.add_argument("--history", type=int, default=5, help="past consultations per patient")
    parser.add_argument("--workers", type=int, default=0, help="server processes (0: default)")
    parser.add_argument(
        "--sequential", type=int, default=50, help="in-process saves of one clinician alone"
    )
    parser.add_argument("--statements", action="store_true", help="print a save's SQL")
    parser.add_argument(
        "--profile", choices=("note", "vitals"), help="cProfile the in-process saves of a kind"
    )
    parser.add_argument("--keep", action="store_true", help="keep the server log")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds per database")
    args = parser.parse_args()
    args.field_key = new_field_encryption_key()
    args.src = None
    configure_field_encryption(FieldKeyring(args.field_key))
    # A kill (SIGTERM) cleans up like Ctrl+C: the server, the cluster and the files go.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        results = asyncio.run(
            on_each(
                args.database,
                lambda owner, app: run_on(owner, app, args),
                name="saves",
                keep=False,
                time_limit=args.time_limit,
            )
        )
    except KeyboardInterrupt:
        raise SystemExit("interrupted; the server was stopped and its files removed") from None
    report(results, args)


if __name__ == "__main__":
    main()
