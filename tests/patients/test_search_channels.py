"""Which statements a name search runs: the trigram step only when the name keys found
no one with every typed word, and whole patient rows only for the page."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.patients.service.search import search_patients
from tests.conftest import copy_sqlite_database
from tests.support.identity import create_org
from tests.support.patients import register_patient
from tests.support.sql import statements_of


async def names_found(session: AsyncSession, text: str, *, limit: int = 20) -> list[str]:
    result = await search_patients(session, actor=SYSTEM, text=text, limit=limit)
    return [f"{h.patient.given_name} {h.patient.family_name}" for h in result.hits]


async def test_a_name_typed_in_full_skips_the_trigram_step(
    session: AsyncSession, clinic: Organization
) -> None:
    await scope_to_tenant(session, clinic.id)
    await register_patient(session, given_name="Bartholomew", family_name="Kowalczyk")
    with statements_of(session) as seen:
        assert await names_found(session, "bartholomew kowalczyk") == ["Bartholomew Kowalczyk"]
    assert not [s for s in seen if "similarity" in s]


async def test_a_typo_the_name_keys_miss_is_found_by_trigrams_on_postgresql(
    session: AsyncSession, clinic: Organization
) -> None:
    """ "kovalczyk" shares no prefix, sound or letters with "kowalczyk": only the trigram
    step (PostgreSQL's pg_trgm) finds it; SQLite has the keys alone."""
    await scope_to_tenant(session, clinic.id)
    await register_patient(session, given_name="Bartholomew", family_name="Kowalczyk")
    with statements_of(session) as seen:
        found = await names_found(session, "bartholomew kovalczyk")
    if session.get_bind().dialect.name == "postgresql":
        assert found == ["Bartholomew Kowalczyk"]
        assert [s for s in seen if "similarity" in s]
    else:
        assert found == []


async def test_only_the_page_s_patients_are_read_whole(
    session: AsyncSession, clinic: Organization
) -> None:
    await scope_to_tenant(session, clinic.id)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in range(30):
        await register_patient(
            session,
            given_name=f"Ann{letters[n % 26]}{letters[n // 26]}",
            family_name="Whitmore",
            birth_date=date(1950 + n, 1, 1),
        )
    with statements_of(session) as seen:
        page = await names_found(session, "whitmore", limit=5)
    assert len(page) == 5
    whole_rows = [s for s in seen if s.startswith("SELECT patients.mrn")]
    assert len(whole_rows) == 1  # the page's five, by id
    assert page == sorted(page)  # equal scores: by family name, then given name


async def test_on_sqlite_candidates_are_looked_up_by_key_whatever_the_statistics_say(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """SQLite's sampled statistics (analysis_limit) rate the tenant's criterion as
    matching ~400 rows; with ``id IN (...)`` the planner then read every patient of the
    organization (60 ms at 100,000). The ranking joins its ids as a table instead."""
    path = tmp_path / "clinic.db"
    copy_sqlite_database(sqlite_template, path)
    db = create_database(f"sqlite+aiosqlite:///{path}")
    try:
        async with session_scope(db) as session:
            organization = await create_org(session, "Sampled")
            await scope_to_tenant(session, organization.id)
            letters = "abcdefghijklmnopqrstuvwxyz"
            for n in range(400):  # as many candidates as a search ranks
                given = "Ann" + letters[n % 26] + letters[n // 26]
                await register_patient(session, given_name=given, family_name="Whitmore")
        async with session_scope(db) as session:
            await session.execute(text("ANALYZE"))
            # As sampled at 100,000 patients: ~400 rows per organization (and per
            # "not merged"), one per id.
            rows = await session.execute(
                text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'patients' AND idx NOT NULL")
            )
            for index, stat in rows.all():
                numbers = ["100000", *stat.split()[1:]]
                if index.startswith("ix_patients_") or index == "sqlite_autoindex_patients_2":
                    numbers[1] = "401"
                await session.execute(
                    text("UPDATE sqlite_stat1 SET stat = :stat WHERE idx = :idx"),
                    {"stat": " ".join(numbers), "idx": index},
                )
            await session.execute(text("ANALYZE sqlite_schema"))  # the planner rereads them
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization.id)
            with statements_of(session, with_parameters=True) as seen:
                assert len(await names_found(session, "whi")) == 20
            ranking = [
                (s, p) for s, p in seen if s.startswith("SELECT patients.id, patients.search_name")
            ]
            assert len(ranking) == 1
            statement, parameters = ranking[0]
            connection = await session.connection()
            explained = await connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters
            )
            plan = " / ".join(str(row._mapping["detail"]) for row in explained)
        assert "(id=?)" in plan, plan
        assert "organization_id" not in plan, plan
    finally:
        await db.dispose()
