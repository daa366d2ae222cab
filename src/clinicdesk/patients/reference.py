"""The ICD-10-CM classification as reference data (``core/reference_data.py``: filled
after the migrations, not by them). Migration 0015 makes ``icd10_codes`` and its search
index (the FTS5 table on SQLite, the trigram index on PostgreSQL); this fills both."""

from __future__ import annotations

from dataclasses import fields

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clinicdesk.core.reference_data import ReferenceList
from clinicdesk.patients.icd10 import Icd10Row, classification

_NAMES = [f.name for f in fields(Icd10Row)]


def read_icd10_codes() -> list[dict[str, object]]:
    # Plain dicts built by hand: dataclasses.asdict deep-copies, 98,186 times.
    return [{name: getattr(row, name) for name in _NAMES} for row in classification()]


def fill_icd10_codes(connection: Connection, rows: list[dict[str, object]]) -> int:
    codes = sa.table("icd10_codes", *(sa.column(name) for name in _NAMES))
    for start in range(0, len(rows), 10_000):
        connection.execute(codes.insert(), rows[start : start + 10_000])
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ANALYZE icd10_codes"))
    else:
        # Contentless: only the rowids (= position) are read back from it.
        connection.execute(
            sa.text(
                "INSERT INTO icd10_search (rowid, search_words) "
                "SELECT position, search_words FROM icd10_codes"
            )
        )
    return len(rows)


ICD10_CODES = ReferenceList(
    name="the ICD-10-CM diagnosis codes",
    table="icd10_codes",
    read=read_icd10_codes,
    fill=fill_icd10_codes,
)
