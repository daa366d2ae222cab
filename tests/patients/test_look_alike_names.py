"""Look-alike names: invisible joiners are refused where no script needs them, and a word
that mixes alphabets is compared as the name it imitates and flagged as a duplicate."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.core.errors import InvalidField
from clinicdesk.core.tenancy import scope_to_tenant
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from clinicdesk.patients.matching import LIKELY, PersonFacts, score_match
from clinicdesk.patients.names import clean_name, look_alike_skeleton, mixed_script_words
from clinicdesk.patients.schemas import PatientCreate
from clinicdesk.patients.service import duplicates
from tests.support.http import version_on
from tests.support.identity import SignIn, browser_as, create_user
from tests.support.patients import patient_create, patient_json, register_patient

CYRILLIC_JE = "\u0408"  # looks like a Latin J
CYRILLIC_ES = "\u0421"  # looks like a Latin C
ZWJ, ZWNJ = "\u200d", "\u200c"


@pytest.mark.parametrize(
    "value",
    [
        f"Jo{ZWJ}hn",  # a Latin name with a zero-width joiner inside
        f"Mehr{ZWNJ}asa",  # Persian spelt in Latin letters needs no joiner
        f"Sm{ZWNJ}ith",
        f"\u0645\u0647\u0631{ZWNJ}asa",  # between an Arabic and a Latin letter
        "Jo\u200bhn",  # zero-width space
        "Jo\u2060hn",  # word joiner
    ],
)
def test_invisible_joiners_are_refused_in_scripts_that_do_not_use_them(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape("First name contains hidden formatting")):
        clean_name(value, field="First name")


@pytest.mark.parametrize(
    "value",
    [
        f"\u0645\u0647\u0631{ZWNJ}\u0622\u0633\u0627",  # Persian "Mehrasa" with its ZWNJ
        f"\u0645\u0647\u0631\u064e{ZWNJ}\u0622\u0633\u0627",  # after a vowel sign on a letter
        f"\u0915\u094d{ZWJ}\u0937",  # Devanagari conjunct held open by a ZWJ
    ],
)
def test_joiners_are_kept_where_the_script_spells_with_them(value: str) -> None:
    assert clean_name(value, field="First name") == value


def test_mixed_script_words_are_found_and_folded() -> None:
    spoof = f"{CYRILLIC_JE}ohn"
    assert mixed_script_words(f"{spoof} Smith") == [spoof]
    assert look_alike_skeleton(f"{spoof} Smith") == "John Smith"
    assert look_alike_skeleton(f"{CYRILLIC_ES}arol") == "Carol"
    # A Latin "a" inside a Cyrillic word folds to the Cyrillic letter.
    assert look_alike_skeleton("\u0418\u0432a\u043d\u043e\u0432") == (
        "\u0418\u0432\u0430\u043d\u043e\u0432"
    )
    for honest in ("José Müller", "Maria \u0418\u0432\u0430\u043d\u043e\u0432\u0430", "山田たろう"):
        assert mixed_script_words(honest) == []
        assert look_alike_skeleton(honest) == honest
    # Each part of a double-barrelled name may be in its own script.
    assert mixed_script_words("Smith-\u0418\u0432\u0430\u043d\u043e\u0432\u0430") == []


def _facts(given: str, family: str = "Smith") -> PersonFacts:
    return PersonFacts(
        given_name=given,
        family_name=family,
        middle_name=None,
        birth_date=None,
        phones=frozenset(),
        national_id_hash=None,
        email=None,
    )


@pytest.mark.parametrize("spoof", [f"{CYRILLIC_JE}ohn", f"{CYRILLIC_ES}arol"])
def test_a_look_alike_name_is_a_likely_duplicate_and_says_why(spoof: str) -> None:
    real = look_alike_skeleton(spoof)
    match = score_match(_facts(spoof), _facts(real))
    assert match.score >= LIKELY
    assert {r.code for r in match.reasons} == {"same_name", "look_alike_letters"}
    reverse = score_match(_facts(real), _facts(spoof))
    assert reverse.score == match.score
    assert [r.code for r in reverse.reasons] == [r.code for r in match.reasons]


async def test_registering_a_look_alike_finds_the_record_it_imitates(
    session: AsyncSession, clinic: Organization
) -> None:
    """Nothing in common but the name (the birth date left out of the check): only the
    name index can find it, in both directions."""
    await scope_to_tenant(session, clinic.id)
    born = date(1971, 5, 2)
    carol = await register_patient(
        session, given_name="Carol", family_name="Whitfield", birth_date=born
    )
    spoof = await register_patient(
        session, given_name=f"{CYRILLIC_ES}arol", family_name="Whitfield", birth_date=born
    )
    for new, kept in ((spoof, carol), (carol, spoof)):
        facts = replace(duplicates.facts_of_patient(new), birth_date=None)
        found = await duplicates.find_duplicates(session, facts, exclude=new.id)
        assert [d.patient.id for d in found] == [kept.id]
        assert found[0].match.likely
        assert "look_alike_letters" in {r.code for r in found[0].match.reasons}


async def test_the_duplicate_check_of_the_api_flags_it(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    desk = await sign_in_api(await create_user(session, clinic, Role.RECEPTIONIST))
    created = await desk.post("/api/v1/patients", json=patient_json())
    assert created.status_code == 201, created.text
    check = await desk.post(
        "/api/v1/patients/duplicate-check",
        json=patient_json(given_name=f"{CYRILLIC_JE}ohn", phone=None, email=None, national_id=None),
    )
    assert check.status_code == 200
    [candidate] = check.json()
    assert candidate["patient"]["id"] == created.json()["id"]
    assert any("Look-alike letters" in reason["label"] for reason in candidate["reasons"])


async def test_staff_names_follow_the_same_rules(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    """One rule for every person's name: the service refuses it (CLI, demo, account
    form) and the API's schema too."""
    await scope_to_tenant(session, clinic.id)
    with pytest.raises(InvalidField, match="hidden formatting"):
        await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=clinic.id,
            email="hidden@example.org",
            full_name=f"Jo{ZWJ}hn Doe",
            roles=[Role.NURSE],
            password=None,
        )
    admin = await sign_in_api(await create_user(session, clinic, Role.ADMIN))
    invited = await admin.post(
        "/api/v1/users",
        json={"email": "x@example.org", "full_name": "\u202eeoD nhoJ", "roles": ["nurse"]},
    )
    assert invited.status_code == 422
    assert "text-direction" in invited.text
    renamed = await admin.patch(
        "/api/v1/me", json={"full_name": f"Jo{ZWJ}hn"}, headers={"If-Match": "*"}
    )
    assert renamed.status_code == 422


def test_an_emergency_contact_is_a_name_too() -> None:
    assert patient_create(emergency_contact_name="Ana Lima").emergency_contact_name == "Ana Lima"
    with pytest.raises(ValueError, match="hidden formatting"):
        PatientCreate.model_validate(
            {
                "given_name": "Test",
                "family_name": "Patient",
                "birth_date": "1980-01-01",
                "emergency_contact_name": f"An{ZWJ}a Lima",
            }
        )


async def test_the_account_form_says_what_is_wrong_with_a_name(
    app: FastAPI, session: AsyncSession, clinic: Organization
) -> None:
    user = await create_user(session, clinic, Role.NURSE)
    async with await browser_as(app, session, user) as browser:
        version = version_on((await browser.get("/account")).text)
        refused = await browser.post(
            "/account",
            data={"full_name": f"Jo{ZWJ}hn", "version": version},
            headers={"accept": "text/html"},
        )
    assert refused.status_code == 422
    assert "Name contains hidden formatting characters" in refused.text
    assert 'name="full_name"' in refused.text  # the form again, to correct it
