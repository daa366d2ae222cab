"""Passwords are judged by how guessable they are (zxcvbn's estimate, with the person's
and the clinic's words as known words), not only by a list of common ones; a refusal
says what the password is built from."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import SYSTEM
from clinicdesk.demo import demo_password
from clinicdesk.identity import passwords
from clinicdesk.identity.errors import PasswordRejected
from clinicdesk.identity.models import Organization
from clinicdesk.identity.permissions import Role
from clinicdesk.identity.service import users
from tests.support.identity import PASSWORD, SignIn, create_user


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        ("123456789012", "a run of letters or digits"),
        ("password12345", "a commonly used password"),
        ("Welcome2024!", "a year or a date"),
        ("Summer2024!!", "a year or a date"),
        ("Passw0rd!Passw0rd!", "a repeated part"),
        ("P@ssw0rd-2024", "look-alike digits or symbols"),
        ("qwertyuiop[]", "keyboard pattern"),
        ("Jennifer1985!", "a common first name"),
    ],
)
def test_guessable_passwords_are_refused_with_what_they_are_built_from(
    candidate: str, why: str
) -> None:
    with pytest.raises(PasswordRejected) as refused:
        passwords.check_policy(candidate)
    assert "too easy to guess" in refused.value.detail
    assert why in refused.value.detail
    assert "Add a few more unrelated words" in refused.value.detail  # what to do instead
    assert candidate not in refused.value.detail  # messages reach logs


@pytest.mark.parametrize(
    "candidate",
    [
        "correct horse battery staple",
        "walrus-quantum-pickle",
        "my cat likes warm soup",
        "lantern orchard velvet 42",
        "Ja!n8uar#2Xq",
        "Grüße aus der Praxis, Zimmer drei",
    ],
)
def test_sensible_passphrases_pass(candidate: str) -> None:
    passwords.check_policy(
        candidate, email="dana.reyes@clinic.org", name="Dana Reyes", organization="Riverside"
    )


def test_a_weak_start_is_not_rescued_by_length() -> None:
    with pytest.raises(PasswordRejected, match="repeated"):
        passwords.check_policy("ab" * 40 + " then random words follow here")


@pytest.mark.parametrize(
    ("candidate", "context"),
    [
        ("Riverside Family Clinic!", {"organization": "Riverside Family Clinic"}),
        ("Riverside Clinic 2026", {"organization": "Riverside Family Clinic"}),
        ("Welcome to Riverside!", {"organization": "Riverside"}),
        ("Quintero-Valdespino 1984", {"name": "Ximena Quintero-Valdespino"}),
        ("dana.reyes.2026!", {"email": "dana.reyes@clinic.org"}),
    ],
)
def test_the_persons_and_the_clinics_words_do_not_count(
    candidate: str, context: dict[str, str]
) -> None:
    passwords.check_policy(candidate)  # strong enough for a stranger...
    with pytest.raises(PasswordRejected, match="the clinic's name"):
        passwords.check_policy(candidate, **context)  # ...not for someone who knows them


async def test_every_way_of_setting_a_password_knows_the_clinics_name(
    session: AsyncSession, clinic: Organization, sign_in_api: SignIn
) -> None:
    """Creating a user (CLI, demo), changing one's password (the reset and invitation
    links share the same function) all refuse a password made of the clinic's name."""
    weak = f"Welcome to {clinic.name}!"  # passes for a stranger: see the test above
    with pytest.raises(PasswordRejected, match="the clinic's name"):
        await users.create_user(
            session,
            actor=SYSTEM,
            organization_id=clinic.id,
            email="new.person@example.org",
            full_name="New Person",
            roles=[Role.NURSE],
            password=weak,
        )
    user = await create_user(session, clinic, Role.NURSE, password=PASSWORD)
    api = await sign_in_api(user)
    refused = await api.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": weak}
    )
    assert refused.status_code == 400
    assert "the clinic's name" in refused.json()["detail"]


def test_generated_passwords_always_pass_the_policy() -> None:
    """``clinicdesk demo``, ``org create`` and ``user create`` print a generated password
    when none is given; one the policy refuses would fail the command at random (three
    draws from eight words repeated one about a third of the time)."""
    for _ in range(200):
        generated = demo_password()
        words = generated.split("-")[:-1]
        assert len(set(words)) == len(words), generated
        passwords.check_policy(
            generated, email="admin@example.com", name="Ada Admin", organization="Riverside"
        )
