"""Patient search latency with many patients, on SQLite and PostgreSQL.

Creates N synthetic patients (default 100,000) in a fresh, migrated database and times
``search_patients`` (the service behind the search box) in-process, for a fixed mix of
query kinds: exact name, a name with a typo, given and family name swapped, a three-letter
family-name prefix (as you type), a phone number written differently from how it is
stored, a date of birth in the organization's format, an MRN, a national ID, and a name
that matches nobody. Reports p50/p95/max per kind and overall, and how often the
intended patient was on the first page of results.

The load is a bulk insert, not the registration path: every derived column is computed
with the service's own functions (search name, name-index rows, E.164 phones, encrypted
national ID and its lookup hash), but no audit entries are written.

Each query runs as a request does: a new session scoped to the organization (on
PostgreSQL as a role that owns no table, so row-level security applies), one transaction,
commit. Only the ``search_patients`` call is timed.

Run: uv run python benchmarks/patient_search.py [--patients 100000] [--queries 300]
     [--database sqlite|postgresql|both] [--explain] [--no-analyze]
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from faker import Faker
from harness import (
    analyze,
    captured_statements,
    database_size,
    on_each,
    percentile,
    table,
)
from sqlalchemy import insert
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.core import migrations
from clinicdesk.core.actor import Actor, ActorKind
from clinicdesk.core.counters import Counter
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption, field_keyring
from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.models import new_id
from clinicdesk.core.sqlite_driver import sqlite_version
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.permissions import permissions_for
from clinicdesk.identity.service.organizations import create_organization
from clinicdesk.patients.models import Patient, PatientNameTerm
from clinicdesk.patients.names import clean_name
from clinicdesk.patients.phones import normalize_phone
from clinicdesk.patients.service.records import MRN_COUNTER, format_mrn, normalize_identifier
from clinicdesk.patients.service.search import search_patients
from clinicdesk.patients.service.terms import keys_of, name_tokens, search_name_of
from clinicdesk.patients.vocabulary import SexAtBirth

SEED = 20261122
TODAY = date(2026, 11, 22)  # fixed, so ages (and so the data) do not depend on the run date
TARGET_MS = 50.0
BATCH = 5_000
WARMUP_ROUNDS = 20
PAGE = 20
# Locale and share of patients: accents (es, de, fr) and Vietnamese diacritics and the
# few very common Vietnamese family names (Nguyễn) that make prefix searches broad.
LOCALES = {"en_US": 50, "es_MX": 20, "de_DE": 10, "fr_FR": 10, "vi_VN": 10}
# Assigned US area codes; exchanges 200-999 except N11 and 555 are valid for libphonenumber.
AREA_CODES = ("212", "415", "617", "312", "206", "303", "404", "512", "602", "713")
KINDS = (
    "exact name",
    "typo",
    "swapped names",
    "prefix (3 letters)",
    "phone",
    "birth date",
    "MRN",
    "national ID",
    "no match",
)
# Kinds whose "intended patient" may legitimately be off the first page (thousands match).
NO_RECALL = ("prefix (3 letters)", "no match")


@dataclass(frozen=True, slots=True)
class Person:
    id: uuid.UUID
    mrn: str
    given: str
    family: str
    birth_date: date
    phone: str | None
    national_id: str | None  # as written on the card: "123-45-6789"


@dataclass(frozen=True, slots=True)
class Query:
    kind: str
    text: str
    intended: uuid.UUID | None


@dataclass
class Outcome:
    seconds: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    found: int = 0
    slowest: tuple[float, str] = (0.0, "")


@dataclass
class RunResult:
    database: str
    version: str
    load_seconds: float
    size_bytes: int
    term_rows: int
    outcomes: dict[str, Outcome]


# --- synthetic patients --------------------------------------------------------------


def us_phone(rng: random.Random) -> str:
    while True:
        exchange = rng.randint(200, 999)
        if exchange != 555 and exchange % 100 != 11:
            return f"+1{rng.choice(AREA_CODES)}{exchange}{rng.randint(0, 9999):04d}"


def generate(count: int) -> Iterator[tuple[Person, dict[str, Any], list[dict[str, Any]]]]:
    """Patients, each with its ``patients`` row and ``patient_name_terms`` rows (without
    ``organization_id``), derived exactly as ``register_patient`` derives them."""
    Faker.seed(SEED)
    fake = Faker(list(LOCALES))
    rng = random.Random(SEED)
    locales, weights = list(LOCALES), list(LOCALES.values())
    keyring = field_keyring()
    for sequence in range(1, count + 1):
        faker = fake[rng.choices(locales, weights)[0]]
        female = rng.random() < 0.52
        given = clean_name(
            faker.first_name_female() if female else faker.first_name_male(), field="Given"
        )
        middle = clean_name(faker.first_name(), field="Middle") if rng.random() < 0.2 else None
        family = clean_name(faker.last_name(), field="Family")
        if rng.random() < 0.05:  # a double-barrelled family name
            family = f"{family}-{clean_name(faker.last_name(), field='Family')}"
        preferred = (
            clean_name(faker.first_name(), field="Preferred") if rng.random() < 0.03 else None
        )
        birth_date = TODAY - timedelta(days=rng.randint(0, 95 * 365))
        phone = normalize_phone(us_phone(rng), default_region="US") if rng.random() < 0.9 else None
        phone_alt = (
            normalize_phone(us_phone(rng), default_region="US") if rng.random() < 0.2 else None
        )
        card = f"{rng.randint(100, 899)}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        national_id = normalize_identifier(card) if rng.random() < 0.5 else None
        person = Person(
            id=new_id(),
            mrn=format_mrn(sequence),
            given=given,
            family=family,
            birth_date=birth_date,
            phone=phone,
            national_id=card if national_id else None,
        )
        transient = Patient(
            given_name=given, middle_name=middle, family_name=family, preferred_name=preferred
        )
        row = {
            "id": person.id,
            "version": 1,
            "mrn": person.mrn,
            "given_name": given,
            "middle_name": middle,
            "family_name": family,
            "preferred_name": preferred,
            "sex_at_birth": SexAtBirth.FEMALE if female else SexAtBirth.MALE,
            "birth_date": birth_date,
            "phone": phone,
            "phone_alt": phone_alt,
            "country": "US",
            # Plaintext: the EncryptedText column type encrypts it on the way in.
            "national_id": national_id,
            "national_id_hash": keyring.lookup_hash(national_id) if national_id else None,
            "no_known_allergies": False,
            "search_name": search_name_of(transient),
        }
        terms = []
        for token in name_tokens(given, middle, family, preferred):
            keys = keys_of(token)
            terms.append(
                {
                    "patient_id": person.id,
                    "token": keys.token,
                    "phonetic": keys.phonetic,
                    "letters": keys.letters,
                }
            )
        yield person, row, terms


async def load(db: Database, count: int) -> tuple[uuid.UUID, list[Person], int]:
    """A new organization with ``count`` patients; returns it, the patients and the number
    of name-index rows."""
    async with session_scope(db) as session:
        organization = await create_organization(
            session, name="Search Benchmark Clinic", time_zone="America/New_York"
        )
        organization_id = organization.id
    people: list[Person] = []
    term_rows = 0
    patients: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []

    async def flush() -> None:
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            await session.execute(insert(table(Patient)), patients)
            await session.execute(insert(table(PatientNameTerm)), terms)
        patients.clear()
        terms.clear()

    for person, row, rows in generate(count):
        people.append(person)
        patients.append({**row, "organization_id": organization_id})
        terms.extend({**term, "organization_id": organization_id} for term in rows)
        term_rows += len(rows)
        if len(patients) >= BATCH:
            await flush()
    if patients:
        await flush()
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        # The MRN counter continues after the loaded patients, as if they were registered.
        await session.execute(
            insert(table(Counter)).values(
                id=new_id(), organization_id=organization_id, name=MRN_COUNTER, value=count
            )
        )
    return organization_id, people, term_rows


# --- the query mix ---------------------------------------------------------------------


def with_typo(word: str, rng: random.Random) -> str:
    """Two neighbouring letters swapped, or one letter (not the first) dropped."""
    if rng.random() < 0.5:
        for _ in range(10):
            index = rng.randint(1, len(word) - 2)
            if word[index] != word[index + 1]:
                return word[:index] + word[index + 1] + word[index] + word[index + 2 :]
    index = rng.randint(1, len(word) - 1)
    return word[:index] + word[index + 1 :]


def typo_query(person: Person, rng: random.Random) -> str | None:
    """A typo in the family name (or the given name when the family name is short)."""
    family_words = [w for w in person.family.replace("-", " ").split() if len(w) >= 4]
    if family_words and rng.random() < 0.7:
        word = rng.choice(family_words)
        return f"{person.given} {person.family.replace(word, with_typo(word, rng), 1)}"
    given_words = [w for w in person.given.split() if len(w) >= 4]
    if not given_words:
        return None
    word = rng.choice(given_words)
    return f"{person.given.replace(word, with_typo(word, rng), 1)} {person.family}"


def phone_as_typed(e164: str, style: int) -> str:
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return (
        f"({area}) {exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"{area}-{exchange}-{line}",
        f"1 {area} {exchange} {line}",
        f"{area}{exchange}{line}",
    )[style % 5]


def nobody(rng: random.Random) -> str:
    """Two made-up words (consonant clusters no locale above produces)."""

    def word() -> str:
        return "".join(
            rng.choice(("zq", "xv", "qw", "vx", "kz", "jq")) + rng.choice("aeiouy")
            for _ in range(rng.randint(2, 3))
        ).capitalize()

    return f"{word()} {word()}"


def make_queries(people: list[Person], rounds: int, seed: int) -> list[list[Query]]:
    """``rounds`` rounds, each one query of every kind, about patients picked at random."""
    rng = random.Random(seed)
    with_phone = [p for p in people if p.phone]
    with_id = [p for p in people if p.national_id]
    result = []
    for number in range(rounds):
        person = rng.choice(people)
        typo = None
        while typo is None:
            typo_person = rng.choice(people)
            typo = typo_query(typo_person, rng)
        phone_person = rng.choice(with_phone)
        id_person = rng.choice(with_id)
        dob = rng.choice(people)
        mrn = rng.choice(people)
        card = id_person.national_id or ""
        result.append(
            [
                Query("exact name", f"{person.given} {person.family}", person.id),
                Query("typo", typo, typo_person.id),
                Query("swapped names", f"{dob.family} {dob.given}", dob.id),
                Query("prefix (3 letters)", mrn.family[:3], mrn.id),
                Query("phone", phone_as_typed(phone_person.phone or "", number), phone_person.id),
                Query("birth date", dob.birth_date.strftime("%m/%d/%Y"), dob.id),
                Query("MRN", mrn.mrn, mrn.id),
                Query("national ID", card if number % 2 else card.replace("-", ""), id_person.id),
                Query("no match", nobody(rng), None),
            ]
        )
    return result


# --- measuring -------------------------------------------------------------------------


def receptionist(organization_id: uuid.UUID) -> Actor:
    """Who searches: the search records the list it shows on the audit trail, as a request
    does (part of what is measured)."""
    roles = frozenset({"receptionist"})
    return Actor(
        kind=ActorKind.STAFF,
        user_id=new_id(),
        organization_id=organization_id,
        roles=roles,
        permissions=permissions_for(roles),
    )


async def run_query(
    db: Database, organization_id: uuid.UUID, query: Query
) -> tuple[float, list[uuid.UUID]]:
    """One search as a request runs it: own session, tenant scope, one transaction."""
    async with db.sessionmaker() as session, unit_of_work(session):
        await scope_to_tenant(session, organization_id)
        started = time.perf_counter()
        result = await search_patients(
            session, actor=receptionist(organization_id), text=query.text, limit=PAGE
        )
        elapsed = time.perf_counter() - started
    return elapsed, [hit.patient.id for hit in result.hits]


async def measure(
    db: Database, organization_id: uuid.UUID, people: list[Person], rounds: int
) -> dict[str, Outcome]:
    for queries in make_queries(people, WARMUP_ROUNDS, SEED + 1):
        for query in queries:
            await run_query(db, organization_id, query)
    # The generated data set (hundreds of thousands of objects) is the benchmark's, not the
    # server's: keep full garbage collections from walking it in the middle of a search.
    gc.collect()
    gc.freeze()
    outcomes = {kind: Outcome() for kind in KINDS}
    for queries in make_queries(people, rounds, SEED + 2):
        for query in queries:
            seconds, ids = await run_query(db, organization_id, query)
            outcome = outcomes[query.kind]
            outcome.seconds.append(seconds)
            outcome.hits.append(len(ids))
            outcome.found += query.intended in ids
            outcome.slowest = max(outcome.slowest, (seconds, query.text))
    return outcomes


async def explain(db: Database, organization_id: uuid.UUID, query_text: str) -> None:
    """The statements of one search with their times, and the plan of the slowest."""
    async with db.sessionmaker() as session, unit_of_work(session):
        await scope_to_tenant(session, organization_id)
        async with captured_statements(db) as captured:
            await search_patients(
                session, actor=receptionist(organization_id), text=query_text, limit=PAGE
            )
        for seconds, statement, _params in captured:
            print(f"    {seconds * 1000:8.1f} ms  {' '.join(statement.split())[:120]}")
        seconds, statement, params = max(captured, key=lambda c: c[0])
        prefix = "EXPLAIN QUERY PLAN " if db.kind == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        connection = await session.connection()
        rows = (await connection.exec_driver_sql(prefix + statement, params)).all()
        print(f"    plan of the slowest statement ({seconds * 1000:.1f} ms):")
        for row in rows:
            print("      " + " | ".join(str(value) for value in row))


# --- databases -------------------------------------------------------------------------


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> RunResult:
    """Migrate and load as the owner, then search as the application role."""
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    try:
        await migrations.upgrade(owner, grant_to=app_role)
        started = time.perf_counter()
        organization_id, people, term_rows = await load(owner, args.patients)
        if args.analyze:
            await analyze(owner)
        load_seconds = time.perf_counter() - started
        version = await owner.server_version()
        size = await database_size(owner)
    finally:
        await owner.dispose()
    print(
        f"{owner.kind}: loaded {len(people):,} patients ({term_rows:,} name-index rows) "
        f"in {load_seconds:.1f} s; database {size / 2**20:.0f} MiB",
        flush=True,
    )
    db = create_database(app_url, pool_size=2)
    try:
        outcomes = await measure(db, organization_id, people, args.queries)
        if args.explain:
            for kind, outcome in outcomes.items():
                seconds, query_text = outcome.slowest
                print(f"  {kind}: slowest {seconds * 1000:.1f} ms for {query_text!r}")
                await explain(db, organization_id, query_text)
    finally:
        await db.dispose()
    return RunResult(owner.kind, version, load_seconds, size, term_rows, outcomes)


# --- report ----------------------------------------------------------------------------


def print_table(result: RunResult, patients: int) -> None:
    print()
    print(
        f"{result.database} {result.version}: {patients:,} patients, "
        f"load {result.load_seconds:.1f} s, database {result.size_bytes / 2**20:.0f} MiB"
    )
    header = f"{'kind':<20}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'hits':>7}  found"
    print(header)
    print("-" * len(header))
    everything: list[float] = []
    for kind, outcome in result.outcomes.items():
        everything.extend(outcome.seconds)
        count = len(outcome.seconds)
        found = "-" if kind in NO_RECALL else f"{outcome.found}/{count}"
        late = " *" if percentile(outcome.seconds, 0.95) * 1000 > TARGET_MS else ""
        print(
            f"{kind:<20}{percentile(outcome.seconds, 0.5) * 1000:>9.1f}"
            f"{percentile(outcome.seconds, 0.95) * 1000:>9.1f}{max(outcome.seconds) * 1000:>9.1f}"
            f"{statistics.mean(outcome.hits):>7.1f}  {found}{late}"
        )
    print(
        f"{'all':<20}{percentile(everything, 0.5) * 1000:>9.1f}"
        f"{percentile(everything, 0.95) * 1000:>9.1f}{max(everything) * 1000:>9.1f}"
    )
    print(f"(hits: mean results on the first page of {PAGE}; found: intended patient on it;")
    print(f" * p95 above the {TARGET_MS:.0f} ms target)")


async def main_async(args: argparse.Namespace) -> None:
    results = await on_each(
        args.database,
        lambda owner, app: run_on(owner, app, args),
        name="search",
        keep=args.keep,
        time_limit=args.time_limit,
    )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite_version()} (bundled)"
    )
    print(
        f"queries: {args.queries} per kind after {WARMUP_ROUNDS} warm-up rounds, seed {SEED}; "
        f"{'ANALYZE after the load' if args.analyze else 'no ANALYZE'}"
    )
    for result in results:
        print_table(result, args.patients)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="per kind")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--explain", action="store_true", help="show the plan of each kind's slowest query"
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="skip ANALYZE after the load (as a SQLite database in use has no statistics)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database file")
    parser.add_argument(
        "--time-limit", type=float, default=1200, help="seconds per database before giving up"
    )
    args = parser.parse_args()
    # A fresh key: the benchmark's database is thrown away, and so is the key.
    configure_field_encryption(FieldKeyring(new_field_encryption_key()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
