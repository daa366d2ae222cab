"""ICD-10-CM diagnosis codes: look one up, or find codes as the user types.

The codes are the categories ("E11"), subcategories ("E11.9") and 7th-character codes
("S72.001A") of the ICD-10-CM tabular list shipped by ``simple-icd-10-cm``: 98,186 codes,
74,719 of them leaves (the billable ones). Chapters ("4") and blocks ("E08-E13") are not
codes a diagnosis is recorded with, so they are left out. A few strings are both a block
and a category ("B99", "C7A"); they are the category here.

The index is built in memory on first use, once per process, under a lock. Measured on
the development machine (CPython 3.11, 2 cores), median of runs:

* first call: ~2.1 s. 1.3 s of it is the library parsing its XML, in a child process
  (its tree takes 185 MB, which the server process never holds); building this index
  takes 0.8 s.
* then ``lookup``: under 1 µs. ``search``: a code or code prefix 3 µs; words 0.02-2 ms
  ("asthma" 0.02 ms, "diab typ 2" 0.4 ms, "fracture femur" 1.8 ms); a one- or two-letter
  word matching tens of thousands of titles ("c", "of") 20-40 ms.

The first call blocks for seconds: an async route calls these in a worker thread, or the
app warms the index at start-up.
"""

from __future__ import annotations

import heapq
import os
import re
import subprocess
import sys
import threading
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

from clinicdesk.patients.names import search_key

# Letter, digit, then up to five more letters/digits: a whole or partial code without dot.
_CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z]{0,5}")
_IGNORED_IN_CODES = re.compile(r"[\s.]")
# Sorts after every character of a search key ([a-z0-9 ]) and of a code ([A-Z0-9]): the
# end of a prefix range.
_AFTER_KEY_CHARS = "\x7f"


@dataclass(frozen=True, slots=True)
class Icd10Code:
    code: str  # with the dot: "E11.9"
    title: str


def lookup(code: str) -> Icd10Code | None:
    """The code, written any way ("e119", "E11.9", " E11 .9 "), or ``None`` if it is not one."""
    index = _get_index()
    position = index.by_code.get(_compact(code))
    return None if position is None else index.entries[position]


def search(query: str, *, limit: int = 20) -> list[Icd10Code]:
    """Codes for a search box, best first, at most ``limit``.

    1. The code itself, then codes starting with it, in classification order ("E11" gives
       E11, E11.0, E11.00, ...), when the query looks like a code.
    2. Codes whose title has, for *every* word of the query, a word starting with it;
       case and accents ignored ("diab typ 2" finds "Type 2 diabetes mellitus ..."). Titles
       with more whole-word hits come first, then shorter (more general) titles, then
       classification order.
    """
    if limit < 1:
        return []
    index = _get_index()
    results = index.code_prefix_matches(_compact(query), limit)
    if len(results) < limit:
        seen = set(results)
        for position in index.title_matches(search_key(query).split(), limit + len(seen)):
            if position not in seen:
                results.append(position)
                if len(results) == limit:
                    break
    return [index.entries[position] for position in results]


def _compact(code: str) -> str:
    return _IGNORED_IN_CODES.sub("", code).upper()


class _Index:
    def __init__(self, entries: list[Icd10Code]) -> None:
        self.entries = entries
        compact_codes = [entry.code.replace(".", "") for entry in entries]
        self.by_code = {code: position for position, code in enumerate(compact_codes)}
        order = sorted(range(len(entries)), key=compact_codes.__getitem__)
        self.sorted_codes = [compact_codes[position] for position in order]
        # Compact arrays rather than lists of ints: ~1M postings would otherwise cost 36
        # bytes each (an int object and a pointer) instead of 4.
        self.sorted_positions = array("I", order)

        words = [search_key(entry.title).split() for entry in entries]
        # " type 2 diabetes mellitus ": `" " + prefix in text` tests a word prefix and
        # `" " + word + " " in text` a whole word, both in C and without a set per title.
        self.texts = [f" {' '.join(entry_words)} " for entry_words in words]
        self.lengths = array("H", (len(entry_words) for entry_words in words))
        postings: dict[str, list[int]] = {}
        for position, entry_words in enumerate(words):
            for word in set(entry_words):
                postings.setdefault(word, []).append(position)
        self.vocabulary = sorted(postings)
        self.postings = [array("I", postings[word]) for word in self.vocabulary]
        del postings, words
        # cumulative[j] - cumulative[i]: how many titles the words i..j-1 occur in, which
        # estimates a prefix's selectivity without touching its postings.
        self.cumulative = [0, *accumulate(len(posting) for posting in self.postings)]

    def code_prefix_matches(self, prefix: str, limit: int) -> list[int]:
        if not _CODE_SHAPE.fullmatch(prefix):
            return []
        start = bisect_left(self.sorted_codes, prefix)
        end = bisect_left(self.sorted_codes, prefix + _AFTER_KEY_CHARS, lo=start)
        return list(self.sorted_positions[start : min(end, start + limit)])

    def title_matches(self, words: list[str], limit: int) -> list[int]:
        if not words:
            return []
        ranges = []
        for word in words:
            start = bisect_left(self.vocabulary, word)
            end = bisect_left(self.vocabulary, word + _AFTER_KEY_CHARS, lo=start)
            if start == end:
                return []
            ranges.append((self.cumulative[end] - self.cumulative[start], start, end))
        # Candidates come from the rarest prefix; the others are checked on each title.
        _, start, end = min(ranges)
        candidates = {position for j in range(start, end) for position in self.postings[j]}
        prefixes = [f" {word}" for word in words]
        whole_words = [f" {word} " for word in words]
        matching = [
            position
            for position in candidates
            if all(prefix in self.texts[position] for prefix in prefixes)
        ]

        def rank(position: int) -> tuple[int, int, int]:
            text = self.texts[position]
            hits = sum(word in text for word in whole_words)
            return (-hits, self.lengths[position], position)

        return heapq.nsmallest(limit, matching, key=rank)


_index: _Index | None = None
_index_lock = threading.Lock()


def _get_index() -> _Index:
    global _index  # built once, on first use, for the whole process
    if _index is None:
        with _index_lock:
            if _index is None:
                _index = _Index(_load_entries())
    return _index


# Run in a child process: the library keeps its parsed classification tree (+185 MB) for
# as long as its process lives. The server only needs codes and titles.
_EXTRACT = """
import sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as cm
out = sys.stdout
for code in dict.fromkeys(cm.get_all_codes(with_dots=True)):
    if cm.is_category_or_subcategory(code):
        title = " ".join(str(cm.get_description(code)).split())
        out.write(code + "\\t" + title + "\\n")
"""


def _load_entries() -> list[Icd10Code]:
    """Codes and titles of the classification, read from ``simple-icd-10-cm`` in a child
    process (see ``_EXTRACT``)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and script, no user input
        [sys.executable, "-c", _EXTRACT],
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    entries: list[Icd10Code] = []
    for line in result.stdout.decode("utf-8").splitlines():
        code, _, title = line.partition("\t")
        entries.append(Icd10Code(code=sys.intern(code), title=title))
    return entries
