"""The drug vocabulary as reference data (``core/reference_data.py``: filled after the
migrations, not by them): ~130,000 rows from ``drug-named-entity-recognition``
(``drug_vocabulary.py`` reads the package's data file)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clinicdesk.clinical.drug_vocabulary import VocabularyRows, chunks, vocabulary_rows
from clinicdesk.core.reference_data import ReferenceList

_DRUGS = sa.table(
    "drugs",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("key", sa.String()),
    sa.column("drugbank_id", sa.String()),
    sa.column("mesh_action_id", sa.String()),
    sa.column("tree_numbers", sa.Text()),
)
_NAMES = sa.table(
    "drug_names",
    sa.column("id", sa.Integer()),
    sa.column("drug_id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("is_brand", sa.Boolean()),
)
_TREES = sa.table(
    "drug_tree_numbers",
    sa.column("tree_number", sa.String()),
    sa.column("drug_id", sa.Integer()),
)


def fill_drug_vocabulary(connection: Connection, rows: VocabularyRows) -> int:
    """The three tables, in one transaction (``drugs`` first: the others refer to it)."""
    for table, table_rows in (
        (_DRUGS, rows.drugs),
        (_NAMES, rows.names),
        (_TREES, rows.tree_numbers),
    ):
        for chunk in chunks(table_rows):
            # One executemany per chunk (op.bulk_insert is ~10x slower for 130,000 rows).
            connection.execute(table.insert(), chunk)
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ANALYZE drugs, drug_names, drug_tree_numbers"))
    return len(rows.drugs)


DRUG_VOCABULARY = ReferenceList(
    name="the drug names of the prescribing vocabulary",
    table="drugs",
    read=vocabulary_rows,
    fill=fill_drug_vocabulary,
)
