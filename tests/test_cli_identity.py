"""`clinicdesk org|user|audit|keys`: tenants and accounts from the terminal, the audit
verifier's verdict, and the field key rotation."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, func, select, text, update
from typer.testing import CliRunner

from clinicdesk.audit.models import AuditEvent
from clinicdesk.cli import app
from clinicdesk.core import migrations
from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption, field_keyring
from clinicdesk.core.db import create_database, session_scope
from clinicdesk.core.keys import (
    FIELD_KEY_FILE,
    PREVIOUS_FIELD_KEYS_FILE,
    SECRETS_DIRNAME,
    new_field_encryption_key,
)
from clinicdesk.core.logs import configure_logging
from clinicdesk.core.tenancy import use_system_scope
from clinicdesk.identity import passwords
from clinicdesk.identity.models import Organization, User

runner = CliRunner()

STRONG_PASSWORD = "lantern orchard velvet 42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ORG_CREATED = re.compile(r"Organization 'Lakeside' created \(([0-9a-f-]{36})\)\.")
GENERATED_PASSWORD = re.compile(r"Password: (\S+) \(change it after signing in\)")

Env = Mapping[str, str | None]


def invoke(args: list[str], env: Env) -> tuple[int, str]:
    """Run the command; its output with runs of white space (rich's line wrapping) made
    single spaces. The command configures the process's field keyring and logging for
    itself; both are put back for the tests that follow."""
    keyring = field_keyring()
    try:
        result = runner.invoke(app, args, env=env, catch_exceptions=False)
    finally:
        configure_field_encryption(keyring)
        configure_logging(level="INFO", fmt="json")
    return result.exit_code, " ".join(result.output.split())


async def run(args: list[str], env: Env) -> tuple[int, str]:
    # The command calls asyncio.run itself, so it runs outside the test's event loop.
    return await asyncio.to_thread(invoke, args, env)


def base_env(data_dir: Path, **values: str | None) -> dict[str, str | None]:
    """Settings only from what the test says: none inherited from the environment."""
    env: dict[str, str | None] = {
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_DATABASE_URL": None,
        "CLINICDESK_DATABASE_OWNER_URL": None,
        "CLINICDESK_SECRET_KEY": None,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": None,
        "CLINICDESK_FIELD_ENCRYPTION_PREVIOUS_KEYS": None,
    }
    env.update(values)
    return env


@pytest.fixture
async def database_url(migrated_database_url: str) -> str:
    """A fresh, migrated database of the backend under test (its owner's URL)."""
    db = create_database(migrated_database_url, pool_size=1)
    try:
        await migrations.upgrade(db)
    finally:
        await db.dispose()
    return migrated_database_url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def env(database_url: str, data_dir: Path) -> dict[str, str | None]:
    return base_env(data_dir, CLINICDESK_DATABASE_URL=database_url)


@pytest.fixture(autouse=True)
def _process_state_is_restored() -> Iterator[None]:
    keyring = field_keyring()
    yield
    assert field_keyring() is keyring


async def fetch(url: str, statement: Select[Any]) -> list[Any]:
    db = create_database(url, pool_size=1)
    try:
        async with session_scope(db) as session:
            await use_system_scope(session)
            return list((await session.execute(statement)).scalars())
    finally:
        await db.dispose()


async def count(url: str, entity: type[Any]) -> int:
    [total] = await fetch(url, select(func.count()).select_from(entity))
    return int(total)


async def create_lakeside(env: Env) -> uuid.UUID:
    code, output = await run(
        ["org", "create", "Lakeside", "--admin-email", "boss@example.org"], env
    )
    assert code == 0, output
    found = ORG_CREATED.search(output)
    assert found, output
    return uuid.UUID(found.group(1))


# --- org create ------------------------------------------------------------------------


async def test_org_create_makes_the_organization_and_an_admin_with_a_generated_password(
    env: Env, database_url: str
) -> None:
    code, output = await run(
        [
            "org",
            "create",
            "Lakeside",
            "--admin-email",
            "Boss@Example.org",
            "--admin-name",
            "Bea Boss",
            "--time-zone",
            "Europe/Berlin",
        ],
        env,
    )

    assert code == 0, output
    created = ORG_CREATED.search(output)
    generated = GENERATED_PASSWORD.search(output)
    assert created and generated, output
    assert "Admin: Boss@Example.org" in output
    [organization] = await fetch(database_url, select(Organization))
    assert str(organization.id) == created.group(1)
    assert (organization.name, organization.time_zone) == ("Lakeside", "Europe/Berlin")
    [admin] = await fetch(database_url, select(User))
    assert admin.email == "boss@example.org"
    assert (admin.full_name, admin.roles) == ("Bea Boss", ["admin"])
    assert admin.organization_id == organization.id
    assert await passwords.verify_password(admin.password_hash, generated.group(1))
    actions = await fetch(database_url, select(AuditEvent.action).order_by(AuditEvent.seq))
    assert actions == ["organization.created", "user.created"]


async def test_org_create_with_a_given_password_does_not_print_it(
    env: Env, database_url: str
) -> None:
    code, output = await run(
        [
            "org",
            "create",
            "Lakeside",
            "--admin-email",
            "boss@example.org",
            "--admin-password",
            STRONG_PASSWORD,
        ],
        env,
    )

    assert code == 0, output
    assert STRONG_PASSWORD not in output
    assert "Password:" not in output
    [admin] = await fetch(database_url, select(User))
    assert await passwords.verify_password(admin.password_hash, STRONG_PASSWORD)


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        ("tooshort", "Use at least 12 characters."),
        ("boss@example.org", "Do not use your e-mail address or name as your password."),
        ("Summer2024!!", "too easy to guess: it is built from a commonly used password"),
    ],
)
async def test_org_create_refuses_a_weak_password_and_creates_nothing(
    env: Env, database_url: str, weak: str, reason: str
) -> None:
    code, output = await run(
        [
            "org",
            "create",
            "Lakeside",
            "--admin-email",
            "boss@example.org",
            "--admin-password",
            weak,
        ],
        env,
    )

    assert code == 2
    assert reason in output
    assert "Traceback" not in output
    assert "created" not in output
    assert await count(database_url, Organization) == 0
    assert await count(database_url, User) == 0
    assert await count(database_url, AuditEvent) == 0


# --- user create -----------------------------------------------------------------------


async def test_user_create_adds_a_user_with_roles(env: Env, database_url: str) -> None:
    org_id = await create_lakeside(env)

    code, output = await run(
        [
            "user",
            "create",
            "--organization",
            str(org_id),
            "--email",
            "doc@example.org",
            "--name",
            "Dora Doc",
            "--role",
            "nurse",
            "--role",
            "doctor",
            "--password",
            STRONG_PASSWORD,
        ],
        env,
    )

    assert code == 0, output
    assert "User doc@example.org created with roles nurse, doctor." in output
    assert "Password:" not in output
    [user] = await fetch(database_url, select(User).where(User.email == "doc@example.org"))
    assert (user.organization_id, user.full_name, user.roles) == (
        org_id,
        "Dora Doc",
        ["doctor", "nurse"],
    )
    assert await passwords.verify_password(user.password_hash, STRONG_PASSWORD)
    entry = await fetch(
        database_url,
        select(AuditEvent).where(AuditEvent.resource_id == str(user.id)),
    )
    assert [(e.action, e.organization_id) for e in entry] == [("user.created", org_id)]


async def test_user_create_refuses_an_unknown_organization(env: Env, database_url: str) -> None:
    await create_lakeside(env)
    unknown = uuid.uuid4()
    user = ["--email", "doc@example.org", "--name", "Dora Doc", "--role", "doctor"]

    code, output = await run(["user", "create", "--organization", str(unknown), *user], env)
    not_an_id, not_an_id_output = await run(
        ["user", "create", "--organization", "Lakeside", *user], env
    )

    assert code == 2
    assert f"There is no organization {unknown}." in output
    assert not_an_id == 2
    assert "--organization takes the organization's id (a UUID)." in not_an_id_output
    assert await fetch(database_url, select(User.email)) == ["boss@example.org"]


# --- audit verify ----------------------------------------------------------------------


async def test_audit_verify_passes_then_names_the_altered_entry(
    env: Env, database_url: str
) -> None:
    org_id = await create_lakeside(env)

    code, output = await run(["audit", "verify"], env)
    assert code == 0, output
    assert "Audit trail intact: 2 entries in 2 chains." in output

    db = create_database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            if db.kind == "postgresql":  # the owner first drops the guard on chained entries
                await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            altered = (
                await conn.execute(
                    update(AuditEvent)
                    .where(AuditEvent.chain_id == org_id, AuditEvent.seq == 2)
                    .values(action="user.deleted")
                    .returning(AuditEvent.id)
                )
            ).scalar_one()
    finally:
        await db.dispose()

    code, output = await run(["audit", "verify"], env)

    assert code == 1
    assert "intact" not in output
    assert (
        f"Chain of organization {org_id}: entry #2 ({altered}): "
        "content does not match its hash (the entry was altered)"
    ) in output


# --- keys rotate -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_keys_rotate_reencrypts_under_a_new_key_and_keeps_the_old_one(
    env: Env, database_url: str, data_dir: Path
) -> None:
    await create_lakeside(env)
    secrets_dir = data_dir / SECRETS_DIRNAME
    old_key = (secrets_dir / FIELD_KEY_FILE).read_text().strip()
    old = FieldKeyring(old_key)
    db = create_database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET totp_secret = :token"), {"token": old.encrypt(TOTP_SECRET)}
            )

        code, output = await run(["keys", "rotate"], env)

        assert code == 0, output
        assert "1 value(s) re-encrypted" in output
        new_key = (secrets_dir / FIELD_KEY_FILE).read_text().strip()
        new = FieldKeyring(new_key)
        assert new_key != old_key
        assert (secrets_dir / PREVIOUS_FIELD_KEYS_FILE).read_text().split() == [old_key]
        assert f"Key {new.current_kid} is current" in output
        async with db.engine.connect() as conn:
            token = (await conn.execute(text("SELECT totp_secret FROM users"))).scalar_one()
        assert new.kid_of(token) == new.current_kid != old.current_kid
        assert new.decrypt(token) == TOTP_SECRET

        code, output = await run(["keys", "rotate", "--resume"], env)

        assert code == 0, output
        assert "0 value(s) re-encrypted" in output
        assert (secrets_dir / FIELD_KEY_FILE).read_text().strip() == new_key
        async with db.engine.connect() as conn:
            again = (await conn.execute(text("SELECT totp_secret FROM users"))).scalar_one()
        assert again == token
    finally:
        await db.dispose()


def test_keys_rotate_refuses_a_key_from_the_environment(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data", CLINICDESK_FIELD_ENCRYPTION_KEY=new_field_encryption_key())

    code, output = invoke(["keys", "rotate"], env)

    assert code == 2
    assert "The field key comes from CLINICDESK_FIELD_ENCRYPTION_KEY." in output
    assert "Traceback" not in output
    assert not (tmp_path / "data" / SECRETS_DIRNAME / PREVIOUS_FIELD_KEYS_FILE).exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_keys_rotate_rehashes_lookup_columns(
    env: Env, database_url: str, data_dir: Path
) -> None:
    """A national ID re-encrypted under the new key gets its look-up hash under the new
    key too, so exact search keeps finding it after the old key is dropped."""
    await create_lakeside(env)
    old = FieldKeyring((data_dir / SECRETS_DIRNAME / FIELD_KEY_FILE).read_text().strip())
    db = create_database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            org = (await conn.execute(text("SELECT id FROM organizations"))).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO patients (id, organization_id, mrn, given_name, family_name,"
                    " sex_at_birth, birth_date, no_known_allergies, search_name, version,"
                    " national_id, national_id_hash) VALUES ('00000000000000000000000000000001',"
                    " :org, '1000018', 'Ann', 'Lee', 'female', '1980-01-01', 0, 'ann lee', 1,"
                    " :token, :hash)"
                ),
                {
                    "org": org,
                    "token": old.encrypt("123456789"),
                    "hash": old.lookup_hash("123456789"),
                },
            )
            # An insurance policy's member number, the same way.
            await conn.execute(
                text(
                    "INSERT INTO payers (id, organization_id, name, active, version) VALUES"
                    " ('00000000000000000000000000000002', :org, 'Aetna', 1, 1)"
                ),
                {"org": org},
            )
            await conn.execute(
                text(
                    "INSERT INTO insurance_policies (id, organization_id, patient_id, payer_id,"
                    " priority, relationship, member_number, member_number_hash, version)"
                    " VALUES ('00000000000000000000000000000003', :org,"
                    " '00000000000000000000000000000001', '00000000000000000000000000000002',"
                    " 'primary', 'self', :token, :hash, 1)"
                ),
                {"org": org, "token": old.encrypt("W123"), "hash": old.lookup_hash("W123")},
            )

        code, output = await run(["keys", "rotate"], env)

        assert code == 0, output
        new = FieldKeyring((data_dir / SECRETS_DIRNAME / FIELD_KEY_FILE).read_text().strip())
        async with db.engine.connect() as conn:
            token, hashed = (
                await conn.execute(text("SELECT national_id, national_id_hash FROM patients"))
            ).one()
        assert new.decrypt(token) == "123456789"
        assert hashed == new.lookup_hash("123456789") != old.lookup_hash("123456789")
        async with db.engine.connect() as conn:
            token, hashed = (
                await conn.execute(
                    text("SELECT member_number, member_number_hash FROM insurance_policies")
                )
            ).one()
        assert new.decrypt(token) == "W123"
        assert hashed == new.lookup_hash("W123")
    finally:
        await db.dispose()
