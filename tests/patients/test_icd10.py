"""ICD-10-CM lookup and search-as-you-type over the in-memory index."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.patients import icd10
from clinicdesk.patients.icd10 import Icd10Code, lookup, search
from clinicdesk.patients.names import search_key

TYPE_2_DIABETES = Icd10Code(code="E11.9", title="Type 2 diabetes mellitus without complications")


@pytest.mark.parametrize("typed", ["E11.9", "E119", "e11.9", " e11 9 ", "E11.9 "])
def test_lookup_accepts_the_code_written_any_way(typed: str) -> None:
    assert lookup(typed) == TYPE_2_DIABETES


@pytest.mark.parametrize(
    ("code", "title"),
    [
        ("E11", "Type 2 diabetes mellitus"),  # category
        ("S72.001A", None),  # 7th-character code
        ("U07.1", "COVID-19"),
        ("B99", "Other and unspecified infectious diseases"),  # also a block's name
    ],
)
def test_categories_and_subcategories_are_codes(code: str, title: str | None) -> None:
    found = lookup(code)
    assert found is not None
    assert found.code == code
    assert title is None or found.title == title


@pytest.mark.parametrize("not_a_code", ["4", "E08-E13", "A00-A09", "E11.99", "Z99.999", "", "?"])
def test_chapters_blocks_and_unknown_codes_are_not_found(not_a_code: str) -> None:
    assert lookup(not_a_code) is None


def test_every_code_is_found_without_its_dot_and_in_lower_case() -> None:
    entries = icd10._get_index().entries
    assert len(entries) > 90_000
    assert all(lookup(entry.code.replace(".", "").lower()) is entry for entry in entries)


def test_a_code_comes_first_then_the_codes_under_it_in_order() -> None:
    found = [entry.code for entry in search("e11", limit=5)]
    assert found == ["E11", "E11.0", "E11.00", "E11.01", "E11.1"]
    assert search("E11.9")[0] == TYPE_2_DIABETES
    assert [entry.code for entry in search("J45.90", limit=3)] == ["J45.90", "J45.901", "J45.902"]


def test_every_word_of_the_query_must_start_a_word_of_the_title() -> None:
    found = search("diab typ 2", limit=20)
    assert len(found) == 20
    assert found[0].code == "E11"
    for entry in found:
        words = search_key(entry.title).split()
        for prefix in ("diab", "typ", "2"):
            assert any(word.startswith(prefix) for word in words), entry


def test_search_ignores_accents_case_and_apostrophes() -> None:
    accented = search("Ménière's")
    assert accented
    assert accented == search("MENIERES") == search("meniere")
    assert accented[0] == Icd10Code(code="H81.0", title="Ménière's disease")


def test_whole_words_and_shorter_titles_rank_first() -> None:
    assert search("asthma", limit=1) == [Icd10Code(code="J45", title="Asthma")]
    assert search("fracture femur", limit=1) == [Icd10Code(code="S72", title="Fracture of femur")]


@pytest.mark.parametrize("query", ["", "   ", "zzqx", "diabetes zzqx", "!!!"])
def test_queries_without_matches_return_nothing(query: str) -> None:
    assert search(query) == []


def test_limit_is_respected() -> None:
    assert len(search("fracture", limit=7)) == 7
    assert search("fracture", limit=0) == []


@given(st.text(max_size=12), st.integers(min_value=1, max_value=30))
def test_search_never_fails_and_returns_distinct_codes(query: str, limit: int) -> None:
    found = search(query, limit=limit)
    assert len(found) <= limit
    assert len({entry.code for entry in found}) == len(found)


def test_concurrent_first_use_builds_the_index_once(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []

    def slow_load() -> list[Icd10Code]:
        builds.append(1)
        time.sleep(0.05)  # long enough for every thread to reach the lock
        return [TYPE_2_DIABETES]

    monkeypatch.setattr(icd10, "_index", None)
    monkeypatch.setattr(icd10, "_load_entries", slow_load)
    results: list[Icd10Code | None] = []
    threads = [threading.Thread(target=lambda: results.append(lookup("E119"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1]
    assert results == [TYPE_2_DIABETES] * 8
