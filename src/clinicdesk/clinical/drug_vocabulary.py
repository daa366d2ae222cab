"""Reading the drug vocabulary the ``drug-named-entity-recognition`` package ships
(``drug_ner_dictionary.pkl.bz2``: 20,070 canonical names with DrugBank ids and MeSH tree
numbers, 107,360 names that resolve to them, brand flags). MIT licence; the names come
from the DrugBank open vocabulary (CC0), MeSH (NLM, public domain) and Wikipedia.

Read once, by the reference-data fill of ``drugs`` / ``drug_names`` / ``drug_tree_numbers``
(``clinical/reference.py``), in its own process — never by the server. The package module
itself is never imported: its ``__init__`` loads the dictionary, builds an n-gram index
(~7 s) and reads an OMOP cache from the home directory.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "drug_named_entity_recognition"
DICTIONARY = "drug_ner_dictionary.pkl.bz2"


@dataclass(frozen=True, slots=True)
class VocabularyRows:
    drugs: list[dict[str, Any]]
    names: list[dict[str, Any]]
    tree_numbers: list[dict[str, Any]]


def _dictionary_path() -> Path:
    """The data file, found without importing the package (``importlib.resources`` would
    import it, and its ``__init__`` spends ~7 s building its own n-gram index)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed: run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations))) / DICTIONARY


def _load_dictionary() -> dict[str, Any]:
    with _dictionary_path().open("rb") as raw, bz2.open(raw, "rb") as unpacked:
        # The package's own data file, installed from the lock file's pinned hash.
        loaded: dict[str, Any] = pickle.load(unpacked)  # noqa: S301
    return loaded


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size]


def vocabulary_rows() -> VocabularyRows:
    """Rows for the three tables, ids assigned in a stable order (sorted keys), so two
    databases loaded from the same package version agree on every id."""
    data = _load_dictionary()
    canonical: dict[str, dict[str, Any]] = data["drug_canonical_to_data"]
    variants: dict[str, list[str]] = data["drug_variant_to_canonical"]
    variant_data: dict[str, dict[str, Any]] = data["drug_variant_to_variant_data"]
    drug_id: dict[str, int] = {}
    drugs: list[dict[str, Any]] = []
    tree_rows: dict[str, int] = {}
    for number, key in enumerate(sorted(canonical), start=1):
        facts = canonical[key]
        trees = sorted(set(facts.get("mesh_tree") or []))
        drug_id[key] = number
        drugs.append(
            {
                "id": number,
                "name": _clip(str(facts.get("name") or key), 300),
                "key": _clip(key, 300),
                "drugbank_id": facts.get("drugbank_id"),
                "mesh_action_id": facts.get("mesh_id"),
                "tree_numbers": " ".join(trees),
            }
        )
        for tree in trees:
            tree_rows.setdefault(tree, number)  # a tree number names one MeSH entry
    names: list[dict[str, Any]] = []
    for variant in sorted(variants):
        for key in variants[variant]:
            if key in drug_id and len(variant) <= 300:
                names.append(
                    {
                        "id": len(names) + 1,
                        "drug_id": drug_id[key],
                        "key": variant,
                        "is_brand": bool(variant_data.get(variant, {}).get("is_brand")),
                    }
                )
    return VocabularyRows(
        drugs=drugs,
        names=names,
        tree_numbers=[{"tree_number": t, "drug_id": d} for t, d in sorted(tree_rows.items())],
    )


def chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
