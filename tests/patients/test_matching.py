"""Duplicate scoring: the calibration cases behind LIKELY and POSSIBLE, and its invariants."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.patients.matching import (
    LIKELY,
    POSSIBLE,
    MatchScore,
    PersonFacts,
    score_match,
)
from clinicdesk.patients.names import search_key

BORN = date(1980, 5, 17)
PHONE = "+12015550123"
OTHER_PHONE = "+12015550199"


def person(
    given: str,
    family: str,
    *,
    middle: str | None = None,
    born: date | None = None,
    phones: tuple[str, ...] = (),
    national_id: str | None = None,
    email: str | None = None,
) -> PersonFacts:
    return PersonFacts(
        given_name=given,
        family_name=family,
        middle_name=middle,
        birth_date=born,
        phones=frozenset(phones),
        national_id_hash=national_id,
        email=email,
    )


def codes(match: MatchScore) -> set[str]:
    return {reason.code for reason in match.reasons}


# (case, new, existing, expected score, expected reason codes)
CALIBRATION = [
    (
        "same person, same details",
        person("John", "Smith", born=BORN, phones=(PHONE,)),
        person("John", "Smith", born=BORN, phones=(PHONE,)),
        1.0,
        {"same_name", "same_birth_date", "same_phone"},
    ),
    (
        "typos in both names",
        person("Jon", "Smtih", born=BORN),
        person("John", "Smith", born=BORN),
        0.80,
        {"similar_name", "same_birth_date"},
    ),
    (
        "transliterated given name",
        person("Mohammed", "Al-Sayed", born=BORN),
        person("Muhammad", "Al Sayed", born=BORN),
        0.80,
        {"similar_name", "same_birth_date"},
    ),
    (
        "accents and the German umlaut spelling",
        person("José", "Müller", born=BORN),
        person("Jose", "Mueller", born=BORN),
        0.90,
        {"same_name", "same_birth_date"},
    ),
    (
        "middle name recorded on one side only",
        person("Mary", "Jones", middle="Ann", born=BORN),
        person("Mary", "Jones", born=BORN),
        0.90,
        {"same_name", "same_birth_date"},
    ),
    (
        "middle name typed into the given-name field",
        person("John Paul", "Smith", born=BORN),
        person("John", "Smith", middle="Paul", born=BORN),
        0.80,
        {"similar_name", "same_birth_date"},
    ),
    (
        "second surname dropped",
        person("Ana", "García López", born=BORN),
        person("Ana", "Garcia", born=BORN),
        0.80,
        {"similar_name", "same_birth_date"},
    ),
    (
        "given and family swapped",
        person("Smith", "John", born=BORN),
        person("John", "Smith", born=BORN),
        0.85,
        {"swapped_names", "same_birth_date"},
    ),
    (
        "swapped and misspelled",
        person("Smyth", "Jon", born=BORN),
        person("John", "Smith", born=BORN),
        0.75,
        {"swapped_names", "same_birth_date"},
    ),
    (
        "sounds alike, same birth date and phone",
        person("Catherine", "Smyth", born=BORN, phones=(PHONE,)),
        person("Kathryn", "Smith", born=BORN, phones=(PHONE, OTHER_PHONE)),
        0.85,
        {"sounds_alike", "same_birth_date", "same_phone"},
    ),
    (
        "sounds alike and same birth date only",
        person("Catherine", "Smyth", born=BORN),
        person("Kathryn", "Smith", born=BORN),
        0.70,
        {"sounds_alike", "same_birth_date"},
    ),
    (
        "day and month swapped, same phone",
        person("John", "Smith", born=date(1980, 5, 7), phones=(PHONE,)),
        person("John", "Smith", born=date(1980, 7, 5), phones=(PHONE,)),
        0.85,
        {"same_name", "birth_date_typo", "same_phone"},
    ),
    (
        "one digit of the birth date wrong",
        person("John", "Smith", born=date(1980, 5, 17)),
        person("John", "Smith", born=date(1980, 5, 27)),
        0.70,
        {"same_name", "birth_date_typo"},
    ),
    (
        "neighbouring digits of the year swapped",
        person("John", "Smith", born=date(1987, 5, 17)),
        person("John", "Smith", born=date(1978, 5, 17)),
        0.70,
        {"same_name", "birth_date_typo"},
    ),
    (
        "same name, nothing else known",
        person("John", "Smith"),
        person("John", "Smith", born=BORN),
        0.55,
        {"same_name"},
    ),
    (
        "same national ID, misspelled name",
        person("Jon", "Smith", national_id="h1"),
        person("John", "Smith", born=BORN, national_id="h1"),
        1.0,
        {"same_national_id", "similar_name"},
    ),
    (
        "same national ID contradicted by name and birth date",
        person("Peter", "Chan", born=date(1990, 1, 2), national_id="h1"),
        person("John", "Smith", born=BORN, national_id="h1"),
        0.55,
        {"same_national_id", "different_birth_date"},
    ),
    (
        "same name and birth date, different national ID",
        person("John", "Smith", born=BORN, national_id="h1"),
        person("John", "Smith", born=BORN, national_id="h2"),
        0.50,
        {"same_name", "same_birth_date", "different_national_id"},
    ),
    (
        "twins: other given name, same birth date, phone and e-mail",
        person("Emma", "Garcia", born=BORN, phones=(PHONE,), email="parent@example.org"),
        person("Olivia", "Garcia", born=BORN, phones=(PHONE,), email="parent@example.org"),
        0.70,
        {"same_family_name", "same_birth_date", "same_phone", "same_email"},
    ),
    (
        "twins whose names share phonetic codes",
        person("John", "Smith", born=BORN, phones=(PHONE,)),
        person("Jane", "Smith", born=BORN, phones=(PHONE,)),
        0.60,
        {"same_family_name", "same_birth_date", "same_phone"},
    ),
    (
        "married name, same birth date and phone",
        person("Maria", "Lopez", born=BORN, phones=(PHONE,)),
        person("Maria", "Garcia", born=BORN, phones=(PHONE,)),
        0.60,
        {"same_given_name", "same_birth_date", "same_phone"},
    ),
    (
        "middle names differ",
        person("John", "Smith", middle="Andrew", born=BORN),
        person("John", "Smith", middle="Robert", born=BORN),
        0.80,
        {"same_name", "different_middle_name", "same_birth_date"},
    ),
    (
        "a middle initial agrees with the full middle name",
        person("John", "Smith", middle="A.", born=BORN),
        person("John", "Smith", middle="Andrew", born=BORN),
        0.90,
        {"same_name", "same_birth_date"},
    ),
    (
        "mother and daughter: same name and phone, different birth date",
        person("Maria", "Garcia", born=date(1995, 3, 2), phones=(PHONE,)),
        person("Maria", "Garcia", born=date(1968, 11, 9), phones=(PHONE,)),
        0.30,
        {"same_name", "different_birth_date", "same_phone"},
    ),
    (
        "same name, different birth date and phone",
        person("John", "Smith", born=date(1975, 2, 3), phones=(OTHER_PHONE,)),
        person("John", "Smith", born=BORN, phones=(PHONE,)),
        0.15,
        {"same_name", "different_birth_date"},
    ),
    (
        "e-mail compared without case",
        person("Emma", "Garcia", email=" Emma@Example.org"),
        person("Olivia", "Lee", email="emma@example.org"),
        0.10,
        {"same_email"},
    ),
    (
        "nothing in common",
        person("Emma", "Garcia", born=BORN),
        person("Peter", "Chan", born=date(1990, 1, 2)),
        0.0,
        {"different_birth_date"},
    ),
]


@pytest.mark.parametrize(
    ("new", "existing", "score", "reasons"),
    [case[1:] for case in CALIBRATION],
    ids=[case[0] for case in CALIBRATION],
)
def test_calibration(
    new: PersonFacts, existing: PersonFacts, score: float, reasons: set[str]
) -> None:
    match = score_match(new, existing)
    assert match.score == pytest.approx(score)
    assert codes(match) == reasons


def test_thresholds_separate_the_calibration_cases() -> None:
    def verdict(case: str) -> str:
        new, existing = next(entry[1:3] for entry in CALIBRATION if entry[0] == case)
        match = score_match(new, existing)
        return "likely" if match.likely else "possible" if match.possible else "unlikely"

    assert LIKELY > POSSIBLE
    assert verdict("typos in both names") == "likely"
    assert verdict("swapped and misspelled") == "likely"  # exactly on LIKELY
    assert verdict("sounds alike and same birth date only") == "possible"
    assert verdict("twins: other given name, same birth date, phone and e-mail") == "possible"
    assert verdict("twins whose names share phonetic codes") == "possible"
    assert verdict("same name, nothing else known") == "possible"
    assert verdict("same name, different birth date and phone") == "unlikely"
    mother_and_daughter = "mother and daughter: same name and phone, different birth date"
    assert verdict(mother_and_daughter) == "unlikely"


def test_labels_explain_the_reason_in_words() -> None:
    match = score_match(
        person("Jon", "Smith", born=BORN), person("John", "Smyth", born=BORN, phones=(PHONE,))
    )
    labels = {reason.code: reason.label for reason in match.reasons}
    assert labels == {
        "similar_name": "Similar name (Jon Smith / John Smyth)",
        "same_birth_date": "Same date of birth",
    }
    assert all(reason.weight > 0 for reason in match.reasons)


names = st.sampled_from(
    ["John", "Jon", "Jane", "Catherine", "Kathryn", "Smith", "Smyth", "Müller", "Mueller", ""]
) | st.text(max_size=12)
people = st.builds(
    person,
    names,
    names,
    middle=st.sampled_from([None, "", "A.", "Andrew", "Robert"]),
    born=st.sampled_from(
        [None, BORN, date(1980, 5, 7), date(1980, 7, 5), date(1980, 5, 27), date(1975, 1, 1)]
    ),
    phones=st.lists(st.sampled_from([PHONE, OTHER_PHONE]), max_size=2).map(tuple),
    national_id=st.sampled_from([None, "h1", "h2"]),
    email=st.sampled_from([None, "a@example.org", "A@example.org", "b@example.org"]),
)


@given(people, people)
def test_score_is_symmetric_and_between_zero_and_one(a: PersonFacts, b: PersonFacts) -> None:
    forward, backward = score_match(a, b), score_match(b, a)
    assert 0.0 <= forward.score <= 1.0
    assert forward.score == backward.score
    assert [(r.code, r.weight) for r in forward.reasons] == [
        (r.code, r.weight) for r in backward.reasons
    ]


@given(people)
def test_a_named_person_with_a_birth_date_is_a_likely_duplicate_of_itself(
    a: PersonFacts,
) -> None:
    if a.birth_date is not None and search_key(a.given_name) and search_key(a.family_name):
        assert score_match(a, a).likely
