"""Safety checks at the moment of prescribing, on SQLite and PostgreSQL: a patient on 15
active medications (a realistic polypharmacy list: an anticoagulant, antihypertensives,
a statin, an SSRI, a PPI...), with 3 recorded allergies, in an open consultation that
already has 2 prescriptions. Times, in process with the database, what prescribing runs
before it writes anything: ``prescriptions.check`` (the audited encounter read, the
chart's allergies and medication list, the vocabulary look-ups of every name, the MeSH
classes above them, the curated rules) for a rotation of drugs, some flagged (ibuprofen
with warfarin, clarithromycin with simvastatin, amoxicillin with a penicillin allergy)
and some clean.

Each check runs as a request does: a new session scoped to the organization (on
PostgreSQL as a role that owns no table, so row-level security applies), one transaction,
commit. The migration loads the drug vocabulary (~130,000 rows); its time is reported.

Run: uv run python benchmarks/safety_checks.py [--checks 300]
     [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from harness import add_provider, analyze, on_each, percentile
from sqlalchemy import select
from sqlalchemy.engine import make_url

import clinicdesk.models  # noqa: F401  (every table known to the ORM)
from clinicdesk.clinical.models import Drug
from clinicdesk.clinical.schemas.encounters import EncounterStart
from clinicdesk.clinical.schemas.prescriptions import PrescriptionCheck, PrescriptionWrite
from clinicdesk.clinical.service import drugs, encounters, prescriptions
from clinicdesk.clinical.vocabulary import EncounterKind
from clinicdesk.core import migrations
from clinicdesk.core.actor import SYSTEM, Actor
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.db import Database, create_database, session_scope, unit_of_work
from clinicdesk.core.keys import new_field_encryption_key
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.schemas import LocationWrite
from clinicdesk.identity.service import organizations
from clinicdesk.identity.service.common import actor_for
from clinicdesk.identity.service.organizations import create_organization
from clinicdesk.patients.schemas import AllergyWrite, MedicationWrite, PatientCreate
from clinicdesk.patients.service import chart, records

MEDICATIONS = (
    "Warfarin", "Lisinopril", "Amlodipine", "Metoprolol", "Simvastatin", "Metformin",
    "Sertraline", "Omeprazole", "Levothyroxine", "Furosemide", "Spironolactone",
    "Allopurinol", "Salbutamol inhaler", "Vitamin D3", "Paracetamol",
)  # fmt: skip
ALLERGIES = ("Penicillin", "Sulfa drugs", "Latex")
CHECKED = (
    "ibuprofen", "clarithromycin", "amoxicillin", "cephalexin", "naproxen", "tramadol",
    "atorvastatin", "losartan", "ciprofloxacin", "azithromycin", "prednisone", "codeine",
)  # fmt: skip


@dataclass(frozen=True)
class Clinic:
    organization_id: object
    doctor: Actor
    encounter_id: object


async def set_up(db: Database) -> Clinic:
    async with session_scope(db) as session:
        organization = await create_organization(session, name="Safety Benchmark Clinic")
        location = await organizations.create_location(
            session, actor=SYSTEM, data=LocationWrite(name="Main")
        )
        user, _provider = await add_provider(
            session,
            organization_id=organization.id,
            location_id=location.id,
            display_name="Dr. Ada",
            email="ada@example.com",
            full_name="Ada Doctor",
            blocks=(),
        )
        doctor = actor_for(user)
        patient = await records.register_patient(
            session,
            actor=doctor,
            data=PatientCreate(
                given_name="Polly", family_name="Pharmacy", birth_date=date(1948, 3, 4)
            ),
        )
        for name in MEDICATIONS:
            await chart.add_entry(
                session,
                actor=doctor,
                patient_id=patient.id,
                kind="medications",
                data=MedicationWrite(name=name, dose="1 tablet", frequency="daily"),
            )
        for substance in ALLERGIES:
            await chart.add_entry(
                session,
                actor=doctor,
                patient_id=patient.id,
                kind="allergies",
                data=AllergyWrite(substance=substance),
            )
        encounter = await encounters.start_encounter(
            session,
            actor=doctor,
            data=EncounterStart(patient_id=patient.id, kind=EncounterKind.PHONE),
        )
        for name in ("Cetirizine", "Docusate"):
            await prescriptions.prescribe(
                session,
                actor=doctor,
                encounter_id=encounter.id,
                data=PrescriptionWrite(drug_name=name, dose=Decimal(1)),
            )
        return Clinic(organization.id, doctor, encounter.id)


@dataclass
class RunResult:
    database: str
    migrate_seconds: float
    timings: list[float]
    flagged: int


async def run_on(owner_url: str, app_url: str, args: argparse.Namespace) -> RunResult:
    owner = create_database(owner_url, pool_size=2)
    app_role = make_url(app_url).username if app_url != owner_url else None
    try:
        started = time.perf_counter()
        await migrations.upgrade(owner, grant_to=app_role)
        migrate_seconds = time.perf_counter() - started
        clinic = await set_up(owner)
        await analyze(owner)
    finally:
        await owner.dispose()
    db = create_database(app_url, pool_size=2)
    timings: list[float] = []
    flagged = 0
    try:
        async with session_scope(db) as session:
            ids = {
                d.key: d.id
                for d in await session.scalars(select(Drug).where(Drug.key.in_(CHECKED)))
            }
        for index in range(args.checks + 10):
            key = CHECKED[index % len(CHECKED)]
            data = PrescriptionCheck(encounter_id=clinic.encounter_id, drug_id=ids[key])
            async with db.sessionmaker() as session:
                begun = time.perf_counter()
                async with unit_of_work(session):
                    await scope_to_tenant(session, clinic.organization_id)
                    outcome = await prescriptions.check(session, actor=clinic.doctor, data=data)
                elapsed = (time.perf_counter() - begun) * 1000
            if index >= 10:  # the first ten warm the caches and the connection
                timings.append(elapsed)
                flagged += bool(outcome.findings)
    finally:
        await db.dispose()
    return RunResult(owner.kind, migrate_seconds, timings, flagged)


async def main_async(args: argparse.Namespace) -> None:
    drugs.knowledge()  # parsed once per process, as in the server

    async def run(owner_url: str, app_url: str) -> RunResult:
        return await run_on(owner_url, app_url, args)

    results = await on_each(
        args.database, run, name="safety", keep=False, time_limit=args.time_limit
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        f"patient: {len(MEDICATIONS)} active medications, {len(ALLERGIES)} allergies, "
        f"2 prescriptions in the consultation; {len(CHECKED)} drugs checked in rotation"
    )
    header = f"{'database':<12}{'n':>5}{'flagged':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    print(header + "   migration (with the vocabulary)")
    print("-" * len(header))
    for r in results:
        print(
            f"{r.database:<12}{len(r.timings):>5}{r.flagged:>9}"
            f"{percentile(r.timings, 0.5):>9.1f}{percentile(r.timings, 0.95):>9.1f}"
            f"{max(r.timings):>9.1f}   {r.migrate_seconds:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--time-limit", type=float, default=600)
    args = parser.parse_args()
    configure_field_encryption(FieldKeyring(new_field_encryption_key()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
