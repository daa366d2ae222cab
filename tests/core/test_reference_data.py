"""The code lists are filled after the migrations (``core/reference_data.py``): once, in
one transaction each, by one process at a time; and until then what needs them refuses
with 503 rather than answering "no match" or skipping a safety check."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.service import drugs
from clinicdesk.code_lists import CODE_LISTS
from clinicdesk.core import migrations, reference_data
from clinicdesk.core.db import Database, create_database, session_scope
from clinicdesk.core.reference_data import ReferenceDataLoading, ReferenceList
from clinicdesk.patients import public as patients
from tests.support.server import server_process


@pytest.fixture(autouse=True)
def _forget_what_was_seen_filled(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process remembers filled lists; each test starts from "not seen".
    monkeypatch.setattr(reference_data, "_seen_filled", set())


@pytest.fixture
async def unfilled(fresh_database_url: str) -> AsyncIterator[Database]:
    """Migrated, with the code lists still empty (a first start before the fill)."""
    db = create_database(fresh_database_url, pool_size=3)
    try:
        await migrations.upgrade(db)
        yield db
    finally:
        await db.dispose()


def _one_code(connection: Connection, _: object = None) -> int:
    connection.execute(
        text(
            "INSERT INTO icd10_codes (position, code, compact, title, search_words, "
            "word_count, billable) VALUES (0, 'I10', 'I10', 'Essential (primary) "
            "hypertension', ' essential primary hypertension ', 3, true)"
        )
    )
    if connection.dialect.name == "sqlite":  # the word index (FTS5) the search reads
        connection.execute(
            text(
                "INSERT INTO icd10_search (rowid, search_words) "
                "VALUES (0, ' essential primary hypertension ')"
            )
        )
    return 1


def _one_drug(connection: Connection, _: object = None) -> int:
    connection.execute(
        text("INSERT INTO drugs (id, name, key, tree_numbers) VALUES (1, 'Aspirin', 'aspirin', '')")
    )
    connection.execute(
        text("INSERT INTO drug_names (id, drug_id, key, is_brand) VALUES (1, 1, 'aspirin', false)")
    )
    return 1


ONE_CODE = ReferenceList(name="the test codes", table="icd10_codes", read=list, fill=_one_code)
ONE_DRUG = ReferenceList(name="the test drugs", table="drugs", read=list, fill=_one_drug)


async def test_code_searches_and_safety_checks_refuse_until_the_lists_are_filled(
    unfilled: Database,
) -> None:
    async with session_scope(unfilled) as session:
        for waiting in (
            patients.search_icd10(session, "hypertension"),
            patients.lookup_icd10(session, "I10"),
            drugs.search_drugs(session, "aspirin"),
            drugs.get_drug(session, 1),
            drugs.resolve(session, [("aspirin", None)]),
        ):
            with pytest.raises(ReferenceDataLoading) as refused:
                await waiting
            assert refused.value.status_code == 503
            assert refused.value.headers["Retry-After"] == "30"
    assert await reference_data.missing(unfilled, CODE_LISTS) == list(CODE_LISTS)

    assert await reference_data.fill_missing(unfilled, [ONE_CODE, ONE_DRUG]) == [
        "icd10_codes",
        "drugs",
    ]
    async with session_scope(unfilled) as session:
        assert [c.code for c in await patients.search_icd10(session, "hypertension")] == ["I10"]
        assert await patients.search_icd10(session, "diabetes") == []  # now a real "no match"
        assert await patients.lookup_icd10(session, "E11.9") is None
        assert [m.drug.key for m in await drugs.search_drugs(session, "asp")] == ["aspirin"]
        assert await drugs.search_drugs(session, "zz") == []
    assert await reference_data.missing(unfilled, CODE_LISTS) == []


async def test_a_list_is_filled_once_and_a_failed_fill_leaves_it_empty(unfilled: Database) -> None:
    def half_then_fail(connection: Connection, _: object) -> int:
        _one_code(connection)
        raise RuntimeError("stopped halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        await reference_data.fill_missing(
            unfilled, [ReferenceList(name="x", table="icd10_codes", read=list, fill=half_then_fail)]
        )
    assert await reference_data.missing(unfilled, [ONE_CODE]) == [ONE_CODE]
    assert await reference_data.fill_missing(unfilled, [ONE_CODE]) == ["icd10_codes"]
    assert await reference_data.fill_missing(unfilled, [ONE_CODE]) == []  # already filled


async def test_two_fillers_at_once_fill_a_list_once(unfilled: Database, backend: str) -> None:
    def slow_read() -> list[object]:
        time.sleep(0.5)  # both fillers read the package, then race to fill
        return []

    slow = ReferenceList(name="x", table="icd10_codes", read=slow_read, fill=_one_code)
    other = create_database(str(unfilled.engine.url.render_as_string(hide_password=False)))
    try:
        results = await asyncio.gather(
            reference_data.fill_missing(unfilled, [slow]),
            reference_data.fill_missing(other, [slow]),
        )
    finally:
        await other.dispose()
    assert sorted(results) == [[], ["icd10_codes"]]


def test_a_first_start_answers_then_fills_the_code_lists_in_the_background(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir) as server:
        # The server answered (server_process waited for it); the lists come after.
        database = data_dir / "clinicdesk.db"
        deadline = time.monotonic() + 180
        counts: tuple[int, int] = (0, 0)
        while time.monotonic() < deadline:
            with sqlite3.connect(database, timeout=30) as connection:
                counts = connection.execute(
                    "SELECT (SELECT count(*) FROM icd10_codes), (SELECT count(*) FROM drugs)"
                ).fetchone()
            if all(counts):
                break
            time.sleep(1)
        assert counts[0] > 90_000
        assert counts[1] > 20_000
    log = server.log()
    assert "Loading the code lists" in log
    assert "reference_data_filled" in log


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE drugs SET name = 'x' WHERE key = 'amoxicillin'",
        "DELETE FROM drug_names WHERE key = 'amoxicillin'",
        "INSERT INTO drug_tree_numbers VALUES ('Z99', 1)",
    ],
)
async def test_the_application_role_only_reads_the_drug_vocabulary(
    session: AsyncSession, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with session.begin_nested():
            await session.execute(text(statement))
    found = await drugs.search_drugs(session, "amoxicillin")
    assert found[0].drug.key == "amoxicillin"
