"""ICD-10-CM lookup and search-as-you-type, answered by the ``icd10_codes`` table on both
databases, checked against the behaviour of the in-memory index it replaced."""

from __future__ import annotations

import heapq
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.patients import icd10 as rules
from clinicdesk.patients.icd10 import Icd10Code, Icd10Row
from clinicdesk.patients.models import Icd10Entry
from clinicdesk.patients.names import search_key
from clinicdesk.patients.service.icd10 import lookup, search

TYPE_2_DIABETES = Icd10Code(code="E11.9", title="Type 2 diabetes mellitus without complications")


@pytest.mark.parametrize("typed", ["E11.9", "E119", "e11.9", " e11 9 ", "E11.9 "])
async def test_lookup_accepts_the_code_written_any_way(session: AsyncSession, typed: str) -> None:
    assert await lookup(session, typed) == TYPE_2_DIABETES


@pytest.mark.parametrize(
    ("code", "title", "billable"),
    [
        ("E11", "Type 2 diabetes mellitus", False),  # category
        ("S72.001A", None, True),  # 7th-character code
        ("U07.1", "COVID-19", True),
        ("B99", "Other and unspecified infectious diseases", False),  # also a block's name
    ],
)
async def test_categories_and_subcategories_are_codes(
    session: AsyncSession, code: str, title: str | None, billable: bool
) -> None:
    found = await lookup(session, code)
    assert found is not None
    assert found.code == code
    assert found.billable is billable
    assert title is None or found.title == title


@pytest.mark.parametrize("not_a_code", ["4", "E08-E13", "A00-A09", "E11.99", "Z99.999", "", "?"])
async def test_chapters_blocks_and_unknown_codes_are_not_found(
    session: AsyncSession, not_a_code: str
) -> None:
    assert await lookup(session, not_a_code) is None


async def test_the_table_holds_the_whole_classification(session: AsyncSession) -> None:
    total, leaves = (
        await session.execute(
            select(func.count(), func.sum(func.cast(Icd10Entry.billable, Icd10Entry.position.type)))
        )
    ).one()
    assert (total, leaves) == (98_186, 74_719)
    # Every code is found without its dot and in lower case: compact is the code so.
    misfiled = await session.scalar(
        select(func.count()).where(
            Icd10Entry.compact != func.upper(func.replace(Icd10Entry.code, ".", ""))
        )
    )
    assert misfiled == 0
    for code in ("a000", "s72001a", "z9981", "u071", "c7a00"):
        found = await lookup(session, code)
        assert found is not None
        assert found.code.replace(".", "").lower() == code


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE icd10_codes SET title = 'x' WHERE code = 'I10'",
        "DELETE FROM icd10_codes WHERE code = 'I10'",
        "INSERT INTO icd10_codes VALUES (-1, 'X', 'X', 'x', ' x ', 1, true)",
    ],
)
async def test_the_application_role_only_reads_the_classification(
    session: AsyncSession, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with session.begin_nested():
            await session.execute(text(statement))
    assert await lookup(session, "I10") is not None


async def test_a_code_comes_first_then_the_codes_under_it_in_order(session: AsyncSession) -> None:
    found = [entry.code for entry in await search(session, "e11", limit=5)]
    assert found == ["E11", "E11.0", "E11.00", "E11.01", "E11.1"]
    assert (await search(session, "E11.9"))[0] == TYPE_2_DIABETES
    found = [entry.code for entry in await search(session, "J45.90", limit=3)]
    assert found == ["J45.90", "J45.901", "J45.902"]


async def test_every_word_of_the_query_must_start_a_word_of_the_title(
    session: AsyncSession,
) -> None:
    found = await search(session, "diab typ 2", limit=20)
    assert len(found) == 20
    assert found[0].code == "E11"
    for entry in found:
        words = search_key(entry.title).split()
        for prefix in ("diab", "typ", "2"):
            assert any(word.startswith(prefix) for word in words), entry


async def test_search_ignores_accents_case_and_apostrophes(session: AsyncSession) -> None:
    accented = await search(session, "Ménière's")
    assert accented
    assert accented == await search(session, "MENIERES") == await search(session, "meniere")
    assert accented[0] == Icd10Code(code="H81.0", title="Ménière's disease")


async def test_whole_words_and_shorter_titles_rank_first(session: AsyncSession) -> None:
    assert await search(session, "asthma", limit=1) == [Icd10Code(code="J45", title="Asthma")]
    assert await search(session, "fracture femur", limit=1) == [
        Icd10Code(code="S72", title="Fracture of femur")
    ]


@pytest.mark.parametrize(
    "query", ["", "   ", "zzqx", "diabetes zzqx", "!!!", '"zzqx" OR *', "zz%qx", "zz_qx"]
)
async def test_queries_without_matches_return_nothing(session: AsyncSession, query: str) -> None:
    assert await search(session, query) == []


async def test_search_syntax_in_a_query_is_only_words(session: AsyncSession) -> None:
    assert await search(session, 'or" NOT *') == await search(session, "or not")


async def test_limit_is_respected(session: AsyncSession) -> None:
    assert len(await search(session, "fracture", limit=7)) == 7
    assert await search(session, "fracture", limit=0) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=12), limit=st.integers(min_value=1, max_value=30))
async def test_search_never_fails_and_returns_distinct_codes(
    session: AsyncSession, query: str, limit: int
) -> None:
    found = await search(session, query, limit=limit)
    assert len(found) <= limit
    assert len({entry.code for entry in found}) == len(found)


# --- parity with the in-memory index this table replaced -------------------------------


@cache
def _rows() -> tuple[Icd10Row, ...]:
    return tuple(rules.classification())


def _old_search(query: str, limit: int) -> list[str]:
    """The replaced index's algorithm, by brute force over the classification: code
    prefixes in code order, then titles with every word prefixed, ranked by whole-word
    hits, title length, classification order."""
    rows = _rows()
    found: list[str] = []
    prefix = rules.code_prefix(query)
    if prefix:
        found = [
            r.code for r in sorted(rows, key=lambda r: r.compact) if r.compact.startswith(prefix)
        ][:limit]
    words = search_key(query).split()
    if len(found) < limit and words:
        prefixes = [f" {w}" for w in words]
        matching = [r for r in rows if all(p in r.search_words for p in prefixes)]
        ranked = heapq.nsmallest(
            limit + len(found),
            matching,
            key=lambda r: (
                -sum(f" {w} " in r.search_words for w in words),
                r.word_count,
                r.position,
            ),
        )
        for r in ranked:
            if r.code not in found and len(found) < limit:
                found.append(r.code)
    return found


@pytest.mark.parametrize(
    "query",
    [
        "e11",
        "I10",
        "s72.00",
        "c",  # one letter: a code prefix, then tens of thousands of titles
        "of",
        "asthma",
        "diab typ 2",
        "fracture femur",
        "chronic kidney disease stage 3",
        "hypertens heart",
        "covid",
        "Ménière's",
        "copd",
        "e11 diab",
        "pain pain",
    ],
)
async def test_search_answers_as_the_in_memory_index_did(session: AsyncSession, query: str) -> None:
    found = [entry.code for entry in await search(session, query, limit=20)]
    assert found == _old_search(query, 20)
