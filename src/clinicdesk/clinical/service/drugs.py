"""The drug vocabulary at work: search as you type, and resolving names (a picked drug,
a chart allergy, a medication list line) to what the safety checks compare.

Reference data: no tenant, no patient, so nothing here is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.errors import DrugNotFound
from clinicdesk.clinical.kernel.safety import (
    DrugFacts,
    Knowledge,
    components,
    mesh_ancestors,
    parse_knowledge,
)
from clinicdesk.clinical.models import Drug, DrugName, DrugTreeNumber
from clinicdesk.clinical.reference import DRUG_VOCABULARY
from clinicdesk.core.reference_data import require_filled

DATA = "clinicdesk.clinical.kernel.data"


@cache
def knowledge() -> Knowledge:
    """The curated class, allergy and interaction tables (read once per process)."""
    data = resources.files(DATA)
    return parse_knowledge(
        classes_json=data.joinpath("drug_classes.json").read_text(encoding="utf-8"),
        allergy_csv=data.joinpath("allergy_classes.csv").read_text(encoding="utf-8"),
        interactions_csv=data.joinpath("interactions.csv").read_text(encoding="utf-8"),
    )


def name_key(text: str) -> str:
    """How names are compared: lower case, single spaces."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class DrugMatch:
    drug: Drug
    matched: str  # the name typed into: the canonical name, a synonym or a brand
    is_brand: bool


async def search_drugs(session: AsyncSession, query: str, *, limit: int = 12) -> list[DrugMatch]:
    """Names starting with ``query`` (two letters at least), exact canonical names first,
    then shorter names; one line per drug (its best-matching name)."""
    key = name_key(query)
    if len(key) < 2:
        return []
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = (
        select(DrugName.key, DrugName.is_brand, Drug)
        .join(Drug, Drug.id == DrugName.drug_id)
        .where(DrugName.key.like(escaped + "%", escape="\\"))
        .order_by(DrugName.key)
        .limit(200)
    )
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's LIKE ignores a BINARY index; the key range uses it (keys are lower
        # case, so byte order is the prefix order). PostgreSQL's LIKE 'q%' uses the
        # varchar_pattern_ops index, where a range under the database's collation would
        # not be a prefix.
        statement = statement.where(DrugName.key >= key, DrugName.key < key + "\U0010ffff")
    rows = (await session.execute(statement)).all()
    if not rows:
        await require_filled(session, DRUG_VOCABULARY)  # 503 while it is being filled
    best: dict[int, DrugMatch] = {}
    for matched, is_brand, drug in rows:
        current = best.get(drug.id)
        rank = (matched != drug.key, len(matched))
        if current is None or rank < (current.matched != drug.key, len(current.matched)):
            best[drug.id] = DrugMatch(drug, matched, is_brand)
    ordered = sorted(
        best.values(), key=lambda m: (m.matched != key, m.matched != m.drug.key, len(m.matched))
    )
    return ordered[:limit]


async def get_drug(session: AsyncSession, drug_id: int) -> Drug:
    drug = await session.get(Drug, drug_id)
    if drug is None:
        await require_filled(session, DRUG_VOCABULARY)
        raise DrugNotFound("No drug with this id in the vocabulary; pick one from the list.")
    return drug


async def drugs_by_name(session: AsyncSession, names: Iterable[str]) -> dict[str, Drug]:
    """Each name (any synonym or brand, any case) that the vocabulary knows, to its drug."""
    keys = {name_key(n) for n in names if n.strip()}
    if not keys:
        return {}
    rows = await session.execute(
        select(DrugName.key, Drug)
        .join(Drug, Drug.id == DrugName.drug_id)
        .where(DrugName.key.in_(keys))
    )
    return {key: drug for key, drug in rows.all()}  # noqa: C416 - rows, not pairs


async def resolve(
    session: AsyncSession, named: Sequence[tuple[str, Drug | None]]
) -> list[DrugFacts]:
    """``DrugFacts`` for each (label, drug) — drug None for free text, looked up by name
    first. Two queries for any number of drugs: the names, then the MeSH nodes above
    them (and above a combination's components).

    Refused (503) while the vocabulary is being filled after a first start: with no
    names to resolve, every check would pass silently."""
    await require_filled(session, DRUG_VOCABULARY)
    found = await drugs_by_name(session, [label for label, drug in named if drug is None])
    drugs = [drug or found.get(name_key(label)) for label, drug in named]
    parts: dict[int, list[str]] = {}
    for drug in drugs:
        if drug is not None:
            parts[drug.id] = [p for p in components(drug.key) if p != drug.key]
    part_drugs = await drugs_by_name(session, [p for ps in parts.values() for p in ps])
    trees: dict[int, set[str]] = {}
    for drug in drugs:
        if drug is not None:
            numbers = drug.tree_numbers.split()
            for part in parts[drug.id]:
                if part in part_drugs:
                    numbers += part_drugs[part].tree_numbers.split()
            trees[drug.id] = set(numbers) | mesh_ancestors(numbers)
    wanted = set().union(*trees.values()) if trees else set()
    names: dict[str, str] = {}
    if wanted:
        rows = await session.execute(
            select(DrugTreeNumber.tree_number, Drug.key)
            .join(Drug, Drug.id == DrugTreeNumber.drug_id)
            .where(DrugTreeNumber.tree_number.in_(wanted))
        )
        names = {tree: key for tree, key in rows.all()}  # noqa: C416 - rows, not pairs
    k = knowledge()
    facts: list[DrugFacts] = []
    for (label, _), drug in zip(named, drugs, strict=True):
        if drug is None:
            substance = name_key(label)
            facts.append(DrugFacts(label, substance, k.curated_classes([substance]), coded=False))
            continue
        own = {names[t] for t in trees[drug.id] if t in names} - {drug.key}
        substances = {drug.key, *parts[drug.id]}
        kinds = own | set(parts[drug.id]) | k.curated_classes(substances)
        facts.append(DrugFacts(label, drug.key, frozenset(kinds), coded=True))
    return facts
