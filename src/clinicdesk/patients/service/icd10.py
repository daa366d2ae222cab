"""ICD-10-CM look-up and search-as-you-type, answered by the ``icd10_codes`` table.

Reference data, the same for every organization and no patient's: nothing here is
audited. The rules of what a query means live in ``patients/icd10.py``.

How a title search runs (measured in ``benchmarks/icd10_search.py``, figures in
``benchmarks/README.md``): SQLite matches word prefixes in the FTS5 table
``icd10_search``, PostgreSQL narrows ``search_words LIKE '% diab%'`` with a trigram GIN
index; both then rank the matching titles in SQL. A token table of (word, code) would
have served both with one query, but its ~900,000 rows took 3 s (SQLite) and 6 s
(PostgreSQL) to load in the migration, against ~1 s for the 98,186 codes.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, case, column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.reference_data import require_filled
from clinicdesk.patients.icd10 import (
    AFTER_CODE_CHARS,
    Icd10Code,
    code_prefix,
    compact,
    fts5_match,
    query_words,
)
from clinicdesk.patients.models import Icd10Entry
from clinicdesk.patients.reference import ICD10_CODES

_FTS = table("icd10_search", column("rowid"))
_COLUMNS = (Icd10Entry.code, Icd10Entry.title, Icd10Entry.billable)


async def lookup(session: AsyncSession, code: str) -> Icd10Code | None:
    """The code, written any way ("e119", "E11.9", " E11 .9 "), or ``None`` if it is not one."""
    key = compact(code)
    if not key:
        return None
    row = (await session.execute(select(*_COLUMNS).where(Icd10Entry.compact == key))).first()
    if row is None:
        # Not a code, or the classification is not filled yet after a first start (503).
        await require_filled(session, ICD10_CODES)
        return None
    return Icd10Code(row.code, row.title, row.billable)


async def search(session: AsyncSession, query: str, *, limit: int = 20) -> list[Icd10Code]:
    """Codes for a search box, best first, at most ``limit``.

    1. The code itself, then codes starting with it, in code order ("E11" gives E11,
       E11.0, E11.00, ...), when the query looks like a code.
    2. Codes whose title has, for *every* word of the query, a word starting with it;
       case and accents ignored ("diab typ 2" finds "Type 2 diabetes mellitus ..."). Titles
       with more whole-word hits come first, then shorter (more general) titles, then
       classification order.
    """
    if limit < 1:
        return []
    found: list[Icd10Code] = []
    prefix = code_prefix(query)
    if prefix is not None:
        rows = await session.execute(
            select(*_COLUMNS)
            .where(
                Icd10Entry.compact >= prefix,
                Icd10Entry.compact < prefix + AFTER_CODE_CHARS,
            )
            .order_by(Icd10Entry.compact)
            .limit(limit)
        )
        found = [Icd10Code(r.code, r.title, r.billable) for r in rows]
    words = query_words(query)
    if len(found) < limit and words:
        seen = {entry.code for entry in found}
        statement = await _title_matches(session, words)
        rows = await session.execute(statement.limit(limit + len(seen)))
        for r in rows:
            if r.code not in seen:
                found.append(Icd10Code(r.code, r.title, r.billable))
                if len(found) == limit:
                    break
    if not found:
        # "No match" only from a filled classification (503 while it is being filled).
        await require_filled(session, ICD10_CODES)
    return found


async def _title_matches(session: AsyncSession, words: list[str]) -> Select[str, str, bool]:
    whole_words: ColumnElement[int] = sum(
        (case((Icd10Entry.search_words.like(f"% {w} %"), 1), else_=0) for w in words[1:]),
        start=case((Icd10Entry.search_words.like(f"% {words[0]} %"), 1), else_=0),
    )
    statement = select(*_COLUMNS).order_by(
        whole_words.desc(), Icd10Entry.word_count, Icd10Entry.position
    )
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        return statement.join_from(Icd10Entry, _FTS, _FTS.c.rowid == Icd10Entry.position).where(
            text("icd10_search MATCH :match").bindparams(match=fts5_match(words))
        )
    # Search keys are [a-z0-9 ]: nothing in a word needs escaping in a LIKE pattern.
    return statement.where(*(Icd10Entry.search_words.like(f"% {w}%") for w in words))
