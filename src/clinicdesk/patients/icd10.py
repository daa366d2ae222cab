"""ICD-10-CM diagnosis codes: the rows of the ``icd10_codes`` table and the rules that
turn what a person typed into a look-up or a search (``service/icd10.py`` runs them).

The codes are the categories ("E11"), subcategories ("E11.9") and 7th-character codes
("S72.001A") of the ICD-10-CM tabular list shipped by ``simple-icd-10-cm``: 98,186 codes,
74,719 of them leaves (the billable ones). Chapters ("4") and blocks ("E08-E13") are not
codes a diagnosis is recorded with, so they are left out. A few strings are both a block
and a category ("B99", "C7A"); they are the category here.

The classification lives in the database, filled once by a migration (``classification``
reads it from the package in a child process), so no server process holds it: the
in-memory index it replaced cost every process ~60 MB and a 2-second first search.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from clinicdesk.patients.names import search_key

# Letter, digit, then up to five more letters/digits: a whole or partial code without dot.
CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}")
_IGNORED_IN_CODES = re.compile(r"[\s.]")
# Sorts after every character of a compact code ([A-Z0-9]) in byte order (SQLite BINARY,
# PostgreSQL "C" collation, which the column uses): the end of a prefix range.
AFTER_CODE_CHARS = "\x7f"


@dataclass(frozen=True, slots=True)
class Icd10Code:
    code: str  # with the dot: "E11.9"
    title: str
    # A leaf of the classification: the codes a claim accepts ("E11" is not, "E11.9" is).
    billable: bool = field(default=True, compare=False)


@dataclass(frozen=True, slots=True)
class Icd10Row:
    """One row of ``icd10_codes``. ``search_words``: the title's search key with a space
    on each side (" type 2 diabetes mellitus "), so ``LIKE '% diab%'`` tests a word
    prefix and ``LIKE '% diab %'`` a whole word."""

    position: int  # classification order
    code: str
    compact: str
    title: str
    search_words: str
    word_count: int
    billable: bool


def compact(code: str) -> str:
    """The code as the table's ``compact`` column keeps it: no dot, no spaces, upper case."""
    return _IGNORED_IN_CODES.sub("", code).upper()


def code_prefix(query: str) -> str | None:
    """The code (or beginning of one) the query is, or ``None`` if it cannot be one."""
    candidate = compact(query)
    return candidate if CODE_SHAPE.fullmatch(candidate) else None


def query_words(query: str) -> list[str]:
    """The words of a search, as the titles' search keys spell them (case, accents and
    apostrophes ignored). A repeated word counts twice in the ranking, as it always has."""
    return search_key(query).split()


def fts5_match(words: list[str]) -> str:
    """An SQLite FTS5 query: every word as a prefix of a word of the title. Words are
    ``[a-z0-9]+`` (search keys), quoted anyway so none is read as an operator."""
    return " AND ".join(f'"{word}"*' for word in words)


# Run in a child process: the library keeps its parsed classification tree (+185 MB) for
# as long as its process lives.
_EXTRACT = """
import sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as cm
out = sys.stdout
for code in dict.fromkeys(cm.get_all_codes(with_dots=True)):
    if cm.is_category_or_subcategory(code):
        title = " ".join(str(cm.get_description(code)).split())
        out.write(code + "\\t" + ("1" if cm.is_leaf(code) else "0") + "\\t" + title + "\\n")
"""


def classification() -> Iterator[Icd10Row]:
    """Every code of the classification in its order, read from ``simple-icd-10-cm`` in
    a child process (see ``_EXTRACT``; ~1.5 s, most of it the library parsing its XML)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and script, no user input
        [sys.executable, "-c", _EXTRACT],
        capture_output=True,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    for position, line in enumerate(result.stdout.decode("utf-8").splitlines()):
        code, leaf, title = line.split("\t", 2)
        words = search_key(title).split()
        yield Icd10Row(
            position=position,
            code=code,
            compact=code.replace(".", ""),
            title=title,
            search_words=f" {' '.join(words)} ",
            word_count=len(words),
            billable=leaf == "1",
        )
