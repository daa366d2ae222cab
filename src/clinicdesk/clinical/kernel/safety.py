"""Safety checks at the moment of prescribing: allergy (the substance, its class, and a
small cited cross-reactivity table), duplicate therapy, drug-drug interactions.

Pure: the caller resolves every drug to ``DrugFacts`` (its substance key and everything it
counts as: MeSH ancestor classes from the vocabulary, the curated classes of
``data/drug_classes.json``, the substances of a combination product) and hands over the
curated ``Knowledge`` parsed from ``data/`` (``parse_knowledge`` takes the files' text,
the service reads them). Every finding carries its evidence: which allergy or active drug,
which rule, and the rule's source. Not a complete interaction database (data/README.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CONTRAINDICATED = "contraindicated"
    MAJOR = "major"
    MODERATE = "moderate"

    @property
    def rank(self) -> int:
        return {"contraindicated": 0, "major": 1, "moderate": 2}[self.value]


class FindingKind(StrEnum):
    ALLERGY = "allergy"
    DUPLICATE = "duplicate-therapy"
    INTERACTION = "interaction"


@dataclass(frozen=True, slots=True)
class DrugFacts:
    """A drug as the checks see it. ``substance``: the vocabulary key (or the free text
    lower-cased when uncoded); ``kinds``: every class and component it counts as."""

    label: str
    substance: str
    kinds: frozenset[str] = frozenset()
    coded: bool = True

    def counts_as(self, term: str) -> bool:
        return term == self.substance or term in self.kinds


@dataclass(frozen=True, slots=True)
class AllergyFacts:
    substance: str  # as recorded on the chart
    facts: DrugFacts
    reaction: str | None = None
    severity: str | None = None

    @property
    def recorded(self) -> str:
        extra = ", ".join(x for x in (self.reaction, self.severity) if x)
        return f"{self.substance} ({extra})" if extra else self.substance


@dataclass(frozen=True, slots=True)
class ActiveDrug:
    facts: DrugFacts
    where: str  # "medication list" / "prescribed in this consultation"


@dataclass(frozen=True, slots=True)
class DrugClass:
    name: str
    label: str
    duplicate_therapy: bool
    source: str
    members: frozenset[str]


@dataclass(frozen=True, slots=True)
class AllergyRule:
    allergen_class: str
    drug_class: str
    kind: str
    severity: Severity
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class InteractionRule:
    id: str
    a: str
    b: str
    severity: Severity
    effect: str
    management: str
    source: str


@dataclass(frozen=True, slots=True)
class Knowledge:
    classes: Mapping[str, DrugClass]
    allergy_rules: Sequence[AllergyRule]
    interactions: Sequence[InteractionRule]
    allergy_classes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "allergy_classes", frozenset(r.allergen_class for r in self.allergy_rules)
        )

    def label(self, name: str) -> str:
        found = self.classes.get(name)
        return found.label if found else name

    def curated_classes(self, substances: Iterable[str]) -> frozenset[str]:
        """The curated classes any of ``substances`` is a member of."""
        wanted = set(substances)
        return frozenset(c.name for c in self.classes.values() if c.members & wanted)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    severity: Severity
    title: str
    evidence: str
    detail: str
    management: str | None = None
    rule: str | None = None
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}


def _rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def parse_knowledge(*, classes_json: str, allergy_csv: str, interactions_csv: str) -> Knowledge:
    """The curated tables from their files' text (comment lines start with ``#``)."""
    raw = json.loads(classes_json)
    classes = {
        name: DrugClass(
            name=name,
            label=entry["label"],
            duplicate_therapy=bool(entry.get("duplicate_therapy")),
            source=entry["source"],
            members=frozenset(entry.get("members", [])),
        )
        for name, entry in raw.items()
        if not name.startswith("_")
    }
    allergy = [
        AllergyRule(
            allergen_class=r["allergen_class"],
            drug_class=r["drug_class"],
            kind=r["kind"],
            severity=Severity(r["severity"]),
            note=r["note"],
            source=r["source"],
        )
        for r in _rows(allergy_csv)
    ]
    interactions = [
        InteractionRule(
            id=r["id"],
            a=r["a"],
            b=r["b"],
            severity=Severity(r["severity"]),
            effect=r["effect"],
            management=r["management"],
            source=r["source"],
        )
        for r in _rows(interactions_csv)
    ]
    return Knowledge(classes=classes, allergy_rules=allergy, interactions=interactions)


def _term(term: str) -> str:
    return term.removeprefix("class:")


def _allergy_finding(drug: DrugFacts, allergy: AllergyFacts, k: Knowledge) -> Finding | None:
    """The strongest reason ``allergy`` speaks against ``drug``: the same substance, the
    drug inside the allergen's class, or a class rule (same class / cross-reactive)."""
    allergen = allergy.facts
    if drug.substance == allergen.substance or allergen.substance in drug.kinds:
        same = drug.substance == allergen.substance
        return Finding(
            kind=FindingKind.ALLERGY,
            severity=Severity.CONTRAINDICATED,
            title=f"Allergy: {allergy.substance}",
            evidence=f"Recorded allergy: {allergy.recorded}",
            detail=(
                f"{drug.label} is the substance the patient is allergic to."
                if same
                else f"{drug.label} belongs to {k.label(allergen.substance)} (MeSH class "
                "of the drug vocabulary)."
            ),
            rule="same-substance" if same else "substance-class",
            source="Chart allergy list; drug vocabulary (DrugBank names, MeSH tree)",
        )
    allergen_classes = ({allergen.substance} | allergen.kinds) & k.allergy_classes
    best: Finding | None = None
    for rule in k.allergy_rules:
        if rule.allergen_class in allergen_classes and drug.counts_as(rule.drug_class):
            same = rule.kind == "same-class"
            finding = Finding(
                kind=FindingKind.ALLERGY,
                severity=rule.severity,
                title=f"Allergy: {allergy.substance} ({k.label(rule.allergen_class)})",
                evidence=f"Recorded allergy: {allergy.recorded}",
                detail=(
                    f"{drug.label} is also one of the {k.label(rule.drug_class)}. {rule.note}"
                    if same
                    else f"{drug.label} is one of the {k.label(rule.drug_class)}: possible "
                    f"cross-reactivity with {k.label(rule.allergen_class)}. {rule.note}"
                ),
                rule=f"{rule.allergen_class}->{rule.drug_class} ({rule.kind})",
                source=rule.source,
            )
            if best is None or finding.severity.rank < best.severity.rank:
                best = finding
    return best


def _duplicate_finding(drug: DrugFacts, active: ActiveDrug, k: Knowledge) -> Finding | None:
    other = active.facts
    if drug.substance == other.substance:
        return Finding(
            kind=FindingKind.DUPLICATE,
            severity=Severity.MAJOR,
            title=f"Duplicate: {other.label} is already active",
            evidence=f"{other.label} on the {active.where}",
            detail=f"{drug.label} is the same substance.",
            management="Renew or change the existing prescription instead of adding one.",
            rule="same-substance",
            source="Chart medication list and this consultation's prescriptions",
        )
    shared = sorted(
        name
        for name in drug.kinds & other.kinds
        if name in k.classes and k.classes[name].duplicate_therapy
    )
    if not shared:
        return None
    cls = k.classes[shared[0]]
    return Finding(
        kind=FindingKind.DUPLICATE,
        severity=Severity.MODERATE,
        title=f"Duplicate therapy: two {cls.label}",
        evidence=f"{other.label} on the {active.where}",
        detail=f"{drug.label} and {other.label} are both {cls.label}.",
        management="Stop one of them, unless the combination is intended.",
        rule=f"same-class:{cls.name}",
        source=cls.source,
    )


def _interaction_findings(drug: DrugFacts, active: ActiveDrug, k: Knowledge) -> list[Finding]:
    other = active.facts
    found = []
    for rule in k.interactions:
        a, b = _term(rule.a), _term(rule.b)
        if (drug.counts_as(a) and other.counts_as(b)) or (drug.counts_as(b) and other.counts_as(a)):
            found.append(
                Finding(
                    kind=FindingKind.INTERACTION,
                    severity=rule.severity,
                    title=f"Interaction: {drug.label} + {other.label}",
                    evidence=f"{other.label} on the {active.where}",
                    detail=rule.effect,
                    management=rule.management,
                    rule=f"{rule.id} ({k.label(a)} + {k.label(b)})",
                    source=rule.source,
                )
            )
    return found


def check_prescription(
    drug: DrugFacts,
    *,
    allergies: Sequence[AllergyFacts],
    active: Sequence[ActiveDrug],
    knowledge: Knowledge,
) -> list[Finding]:
    """Every finding for prescribing ``drug`` to a patient with ``allergies`` on the
    ``active`` drugs, most severe first. One allergy finding per allergy (its strongest
    reason); one duplicate finding per active drug; every matching interaction rule."""
    findings: list[Finding] = []
    for allergy in allergies:
        found = _allergy_finding(drug, allergy, knowledge)
        if found is not None:
            findings.append(found)
    for other in active:
        duplicate = _duplicate_finding(drug, other, knowledge)
        if duplicate is not None:
            findings.append(duplicate)
        if duplicate is None or duplicate.rule != "same-substance":
            findings.extend(_interaction_findings(drug, other, knowledge))
    order = {FindingKind.ALLERGY: 0, FindingKind.INTERACTION: 1, FindingKind.DUPLICATE: 2}
    return sorted(findings, key=lambda f: (f.severity.rank, order[f.kind]))


def mesh_ancestors(tree_numbers: Iterable[str]) -> set[str]:
    """Every proper prefix of each tree number ("D03.633.100" → "D03.633", "D03"): the
    MeSH nodes above the drug, to be named from the vocabulary."""
    above: set[str] = set()
    for tree in tree_numbers:
        parts = tree.split(".")
        for end in range(1, len(parts)):
            above.add(".".join(parts[:end]))
    return above


def components(key: str) -> list[str]:
    """The substances of a combination product's name ("trimethoprim/sulfamethoxazole",
    "amoxicillin and clavulanic acid"); a single substance gives itself alone."""
    for separator in ("/", " and ", ", "):
        if separator in key:
            return [p.strip() for p in key.split(separator) if p.strip()]
    return [key]
