"""The prescribing kernels without a database: the sig text and course quantity
(property tests), the curated tables' consistency, and the safety rules on hand-made
drug facts."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.clinical.kernel.safety import (
    ActiveDrug,
    AllergyFacts,
    DrugFacts,
    FindingKind,
    Severity,
    check_prescription,
    components,
    mesh_ancestors,
)
from clinicdesk.clinical.kernel.sig import (
    Directions,
    DoseForm,
    Frequency,
    Route,
    amount_text,
    course_quantity,
    sig_text,
)
from clinicdesk.clinical.service.drugs import knowledge

doses = st.decimals(min_value=Decimal("0.25"), max_value=Decimal(100), places=2)
directions = st.builds(
    Directions,
    dose=doses,
    form=st.sampled_from(DoseForm),
    route=st.sampled_from(Route),
    frequency=st.sampled_from(Frequency),
    duration_days=st.one_of(st.none(), st.integers(1, 365)),
    as_needed_for=st.one_of(st.none(), st.sampled_from(["pain", "wheeze"])),
    instructions=st.one_of(st.none(), st.sampled_from(["after food", "Shake well."])),
)


def test_a_plain_course_reads_as_a_pharmacist_writes_it() -> None:
    d = Directions(Decimal(1), DoseForm.TABLET, Route.ORAL, Frequency.BID, duration_days=7)
    assert sig_text(d) == "Take 1 tablet by mouth twice daily for 7 days."
    assert course_quantity(d) == 14
    puffs = Directions(
        Decimal(2), DoseForm.PUFF, Route.INHALED, Frequency.Q6H, as_needed_for="wheeze"
    )
    assert sig_text(puffs) == "Inhale 2 puffs by inhalation every 6 hours as needed for wheeze."
    assert course_quantity(puffs) is None
    assert amount_text(Decimal("2.500")) == "2.5" and amount_text(Decimal("100")) == "100"
    patches = Directions(Decimal(2), DoseForm.PATCH, Route.TRANSDERMAL, Frequency.WEEKLY)
    assert sig_text(patches) == "Apply 2 patches to the skin once weekly."
    assert DoseForm.SUPPOSITORY.words(Decimal(2)) == "suppositories"


@given(directions)
def test_the_sig_states_every_part_of_the_structure(d: Directions) -> None:
    text = sig_text(d)
    assert text.startswith(d.route.verb + " " + amount_text(d.dose) + " ")
    assert d.route.phrase in text and d.frequency.words in text
    assert (d.as_needed_for is None) == ("as needed" not in text)
    if d.duration_days and d.frequency is not Frequency.ONCE:
        assert re.search(r"for \d+ (day|days|weeks)", text)
    if d.instructions:
        assert text.endswith(d.instructions.strip()[1:].rstrip(".") + ".")
    assert "  " not in text and text.endswith(".")


@given(directions)
def test_the_course_quantity_covers_the_course(d: Directions) -> None:
    quantity = course_quantity(d)
    per_day = d.frequency.per_day
    if quantity is None:
        assert d.as_needed_for or not d.duration_days or per_day is None
        return
    assert quantity == int(quantity) or d.frequency is Frequency.ONCE
    if per_day is not None and d.duration_days:
        needed = d.dose * per_day * d.duration_days
        assert needed <= quantity < needed + 1


def test_every_curated_rule_names_known_classes_and_a_source() -> None:
    k = knowledge()
    for rule in k.interactions:
        for term in (rule.a, rule.b):
            if term.startswith("class:"):
                assert term.removeprefix("class:") in k.classes, rule.id
        assert rule.source and rule.management and rule.effect
    for allergy in k.allergy_rules:
        assert allergy.allergen_class in k.classes and allergy.drug_class in k.classes
        assert allergy.source
    assert len({r.id for r in k.interactions}) == len(k.interactions)


def _drug(label: str, *kinds: str) -> DrugFacts:
    return DrugFacts(label, label.lower(), frozenset(kinds))


def test_class_allergy_cross_reactivity_duplicates_and_interactions() -> None:
    k = knowledge()
    penicillin = AllergyFacts("Penicillin", _drug("penicillins"), "hives", "severe")
    amoxicillin = _drug("Amoxicillin", "penicillins", "ampicillin")
    [found] = check_prescription(amoxicillin, allergies=[penicillin], active=[], knowledge=k)
    assert found.kind is FindingKind.ALLERGY and found.severity is Severity.CONTRAINDICATED
    assert found.evidence == "Recorded allergy: Penicillin (hives, severe)"

    to_amoxicillin = AllergyFacts("Amoxil", amoxicillin)
    cefalexin = _drug("Cephalexin", "cephalosporins")
    [cross] = check_prescription(cefalexin, allergies=[to_amoxicillin], active=[], knowledge=k)
    assert cross.severity is Severity.MODERATE and "Khan" in (cross.source or "")

    warfarin = ActiveDrug(_drug("Warfarin", "anticoagulants"), "medication list")
    naproxen = ActiveDrug(_drug("Naproxen", "nsaids"), "medication list")
    findings = check_prescription(
        _drug("Ibuprofen", "nsaids"), allergies=[], active=[warfarin, naproxen], knowledge=k
    )
    assert [(f.kind, f.evidence) for f in findings] == [
        (FindingKind.INTERACTION, "Warfarin on the medication list"),
        (FindingKind.DUPLICATE, "Naproxen on the medication list"),
    ]
    same = check_prescription(
        _drug("Warfarin", "anticoagulants"), allergies=[], active=[warfarin], knowledge=k
    )
    assert [f.rule for f in same] == ["same-substance"]


@given(st.lists(st.sampled_from(sorted(knowledge().classes)), max_size=4))
def test_a_drug_of_no_shared_kind_has_no_findings(kinds: list[str]) -> None:
    """Findings need evidence: a drug that shares no substance or class with any allergy
    or active drug, and meets no rule, is never flagged."""
    k = knowledge()
    active = [ActiveDrug(_drug("Zzz-unrelated"), "medication list")]
    allergy = [AllergyFacts("Latex", _drug("latex"))]
    assert (
        check_prescription(_drug("Qqq", *kinds), allergies=allergy, active=active, knowledge=k)
        == []
    )


def test_mesh_ancestors_and_components() -> None:
    assert mesh_ancestors(["D03.633.100"]) == {"D03", "D03.633"}
    assert components("trimethoprim/sulfamethoxazole") == ["trimethoprim", "sulfamethoxazole"]
    assert components("amoxicillin and clavulanic acid") == ["amoxicillin", "clavulanic acid"]
    assert components("warfarin") == ["warfarin"]


def test_every_curated_member_and_substance_is_a_vocabulary_drug() -> None:
    """A member spelled unlike the vocabulary's canonical key would never match."""
    from clinicdesk.clinical.drug_vocabulary import vocabulary_rows

    keys = {d["key"] for d in vocabulary_rows().drugs}
    k = knowledge()
    members = {m for c in k.classes.values() for m in c.members}
    members |= {c for c in k.classes if k.classes[c].members == frozenset()}
    substances = {t for r in k.interactions for t in (r.a, r.b) if not t.startswith("class:")}
    assert sorted((members | substances) - keys) == []
