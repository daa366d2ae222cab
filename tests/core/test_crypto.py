"""Field encryption: tokens, key rotation, lookup hashes, and the encrypted column type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, ClassVar

import pytest
from sqlalchemy import MetaData, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.attributes import flag_modified

from clinicdesk.core import crypto
from clinicdesk.core.crypto import (
    EncryptedText,
    FieldDecryptionError,
    FieldKeyring,
    UnknownKeyError,
    configure_field_encryption,
    field_keyring,
)
from clinicdesk.core.models import NAMING_CONVENTION, TYPE_ANNOTATION_MAP, Entity


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


class ScratchBase(DeclarativeBase):
    """Tables for these tests only; kept off the application's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Card(ScratchBase, Entity):
    __tablename__ = "scratch_crypto_card"
    label: Mapped[str] = mapped_column(String(40))
    national_id: Mapped[str | None] = mapped_column(EncryptedText())


@pytest.fixture
def field_key() -> str:
    return new_key()


@pytest.fixture
def keyring(field_key: str) -> FieldKeyring:
    return FieldKeyring(field_key)


@pytest.fixture
def configured(keyring: FieldKeyring, monkeypatch: pytest.MonkeyPatch) -> FieldKeyring:
    # monkeypatch puts back whatever keyring (or none) the process had before the test.
    monkeypatch.setattr(crypto, "_keyring", None)
    configure_field_encryption(keyring)
    return keyring


@pytest.fixture
async def tables(session: AsyncSession, configured: FieldKeyring) -> AsyncSession:
    # DDL inside the test transaction: rolled back with it on both databases.
    await (await session.connection()).run_sync(ScratchBase.metadata.create_all)
    return session


# --- tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    ["", "850101-1234", "Zoë Ångström-Ñúñez", "患者番号 42", "🩺💊", "v1.deadbeef.AAAA"],
)
def test_round_trip(keyring: FieldKeyring, plaintext: str) -> None:
    token = keyring.encrypt(plaintext)
    assert keyring.decrypt(token) == plaintext


def test_token_format_names_version_and_key(keyring: FieldKeyring) -> None:
    token = keyring.encrypt("850101-1234")
    version, kid, body = token.split(".")
    assert version == "v1"
    assert kid == keyring.current_kid
    assert len(kid) == 8 and all(c in "0123456789abcdef" for c in kid)
    assert "=" not in body
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len("850101-1234") + 16  # nonce + ciphertext + tag
    assert "850101-1234" not in token


def test_kid_is_derived_from_key_and_stable(keyring: FieldKeyring) -> None:
    key = new_key()
    assert FieldKeyring(key).current_kid == FieldKeyring(key).current_kid
    assert FieldKeyring(key).current_kid != keyring.current_kid
    # The kid is a labelled hash, not a prefix of the key or its plain SHA-256.
    raw = base64.urlsafe_b64decode(key)
    assert FieldKeyring(key).current_kid not in (raw.hex()[:8], hashlib.sha256(raw).hexdigest()[:8])


def test_nonce_is_random(keyring: FieldKeyring) -> None:
    first, second = keyring.encrypt("same"), keyring.encrypt("same")
    assert first != second
    assert first.split(".")[2][:16] != second.split(".")[2][:16]


def _flip_bit(token: str, byte_index: int) -> str:
    head, body = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[byte_index] ^= 0x01
    return f"{head}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


@pytest.mark.parametrize("byte_index", [0, 11, 12, -1], ids=["nonce", "nonce-end", "data", "tag"])
def test_tampering_is_detected(keyring: FieldKeyring, byte_index: int) -> None:
    token = keyring.encrypt("850101-1234")
    with pytest.raises(FieldDecryptionError, match="failed authentication"):
        keyring.decrypt(_flip_bit(token, byte_index))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "850101-1234",
        "v2.abcdef01.AAAA",
        "v1.ABCDEF01.AAAA",
        "v1.abc.AAAA",
        "v1.abcdef01",
        "v1.abcdef01.AA.AA",
    ],
)
def test_malformed_tokens_are_refused(keyring: FieldKeyring, token: str) -> None:
    with pytest.raises(FieldDecryptionError, match="not a field token"):
        keyring.decrypt(token)


def test_truncated_or_garbled_body_is_refused(keyring: FieldKeyring) -> None:
    header = f"v1.{keyring.current_kid}."
    with pytest.raises(FieldDecryptionError, match="too short"):
        keyring.decrypt(header + "AAAA")
    with pytest.raises(FieldDecryptionError, match="base64"):
        keyring.decrypt(header + "not*base64!")
    with pytest.raises(FieldDecryptionError, match="base64"):
        keyring.decrypt(header + "ab+/" * 10)  # standard alphabet: one spelling per token
    token = keyring.encrypt("850101-1234")
    with pytest.raises(FieldDecryptionError):
        keyring.decrypt(token[:-4])


def test_token_relabelled_to_another_key_is_refused() -> None:
    other = new_key()
    ring = FieldKeyring(new_key(), previous=[other])
    token = ring.encrypt("850101-1234")
    relabelled = token.replace(ring.current_kid, FieldKeyring(other).current_kid, 1)
    with pytest.raises(FieldDecryptionError, match="failed authentication"):
        ring.decrypt(relabelled)


def test_associated_data_must_match(keyring: FieldKeyring) -> None:
    token = keyring.encrypt("850101-1234", associated_data=b"patient:1")
    assert keyring.decrypt(token, associated_data=b"patient:1") == "850101-1234"
    with pytest.raises(FieldDecryptionError, match="associated data"):
        keyring.decrypt(token, associated_data=b"patient:2")
    with pytest.raises(FieldDecryptionError):
        keyring.decrypt(token)
    plain = keyring.encrypt("850101-1234")
    with pytest.raises(FieldDecryptionError):
        keyring.decrypt(plain, associated_data=b"patient:1")


def test_unknown_key_error_names_the_missing_kid(keyring: FieldKeyring) -> None:
    stranger = FieldKeyring(new_key())
    token = stranger.encrypt("850101-1234")
    with pytest.raises(UnknownKeyError) as excinfo:
        keyring.decrypt(token)
    message = str(excinfo.value)
    assert stranger.current_kid in message
    assert "not in the keyring" in message
    assert keyring.current_kid in message  # the known ids, to help the operator
    assert isinstance(excinfo.value, FieldDecryptionError)


# --- rotation ---------------------------------------------------------------------------


def test_previous_keys_decrypt_and_need_rotation() -> None:
    old_key, new = new_key(), new_key()
    old_ring = FieldKeyring(old_key)
    old_token = old_ring.encrypt("A-998877")

    ring = FieldKeyring(new, previous=[old_key])
    assert ring.kids() == [ring.current_kid, old_ring.current_kid]
    assert ring.decrypt(old_token) == "A-998877"
    assert ring.kid_of(old_token) == old_ring.current_kid
    assert ring.needs_rotation(old_token) is True

    fresh = ring.encrypt(ring.decrypt(old_token))
    assert ring.kid_of(fresh) == ring.current_kid
    assert ring.needs_rotation(fresh) is False
    # Once the old key is dropped its tokens are unreadable, and say why.
    with pytest.raises(UnknownKeyError):
        FieldKeyring(new).decrypt(old_token)


def test_duplicate_keys_in_the_ring_are_collapsed() -> None:
    current, old = new_key(), new_key()
    ring = FieldKeyring(current, previous=[old, current, old])
    assert ring.kids() == [FieldKeyring(current).current_kid, FieldKeyring(old).current_kid]


def test_kid_of_malformed_token_raises(keyring: FieldKeyring) -> None:
    with pytest.raises(FieldDecryptionError):
        keyring.kid_of("plaintext")


# --- lookup hashes ----------------------------------------------------------------------


def test_lookup_hash_is_deterministic_and_keyed() -> None:
    first, second = FieldKeyring(new_key()), FieldKeyring(new_key())
    value = "850101-1234"
    digest = first.lookup_hash(value)
    assert digest == first.lookup_hash(value)
    kid, hex_digest = digest.split(":")
    assert kid == first.current_kid
    assert len(hex_digest) == 64 and int(hex_digest, 16) >= 0
    assert hex_digest not in second.lookup_hash(value)
    assert first.lookup_hash("850101-1235") != digest
    # Normalising is the caller's job: different spellings hash differently.
    assert first.lookup_hash(" 850101-1234") != digest


def test_lookup_hash_is_not_the_encryption_key_or_a_plain_hash() -> None:
    key = new_key()
    ring = FieldKeyring(key)
    raw = base64.urlsafe_b64decode(key)
    plain = hashlib.sha256(b"x").hexdigest()
    with_master = hmac.new(raw, b"x", hashlib.sha256).hexdigest()
    assert ring.lookup_hash("x").split(":")[1] not in (plain, with_master)


def test_lookup_hashes_cover_the_ring_current_first() -> None:
    old_key = new_key()
    old_ring = FieldKeyring(old_key)
    ring = FieldKeyring(new_key(), previous=[old_key])
    hashes = ring.lookup_hashes("850101-1234")
    assert hashes == [ring.lookup_hash("850101-1234"), old_ring.lookup_hash("850101-1234")]
    assert [h.split(":")[0] for h in hashes] == ring.kids()


# --- key material -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "c2hvcnQ=",  # "short"
        base64.urlsafe_b64encode(b"s3cr3t-material-of-33-bytes-long!").decode(),
        base64.urlsafe_b64encode(bytes(range(7, 39))).decode().rstrip("="),  # padding lost
        "hunter2-not-base64-at-all!!!!!!!!!!!!!!!!!!",
        "clé-secrète-ünïcode-" + "A" * 24,
        base64.b64encode(b"\xfb" * 32).decode(),  # standard, not url-safe, alphabet
    ],
)
@pytest.mark.parametrize("where", ["current", "previous"])
def test_bad_key_material_is_rejected_without_echoing_it(bad: str, where: str) -> None:
    current, previous = (bad, []) if where == "current" else (new_key(), [bad])
    with pytest.raises(ValueError, match=f"{where}.* field encryption key") as excinfo:
        FieldKeyring(current, previous)
    message = str(excinfo.value)
    if bad:
        assert bad not in message
        assert bad[:6] not in message
    # Nothing chained either: a traceback must not quote the key.
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__ or excinfo.value.__context__ is None


def test_bad_previous_key_error_says_which_one() -> None:
    with pytest.raises(ValueError, match="previous #2"):
        FieldKeyring(new_key(), previous=[new_key(), "c2hvcnQ="])


def test_a_single_string_as_previous_is_refused() -> None:
    with pytest.raises(TypeError, match="sequence of keys"):
        FieldKeyring(new_key(), previous=new_key())


def test_repr_shows_key_ids_only() -> None:
    key = new_key()
    ring = FieldKeyring(key)
    assert key not in repr(ring)
    assert ring.current_kid in repr(ring)


# --- process-wide keyring ---------------------------------------------------------------


def test_field_keyring_unset_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_keyring", None)
    with pytest.raises(RuntimeError, match="field encryption is not configured"):
        field_keyring()


def test_configure_field_encryption_installs_the_keyring(configured: FieldKeyring) -> None:
    assert field_keyring() is configured
    other = FieldKeyring(new_key())
    configure_field_encryption(other)
    assert field_keyring() is other


# --- the column type --------------------------------------------------------------------


async def _raw_national_id(session: AsyncSession, label: str) -> str | None:
    result = await session.execute(
        text("SELECT national_id FROM scratch_crypto_card WHERE label = :label"),
        {"label": label},
    )
    value: str | None = result.scalar_one()
    return value


async def test_encrypted_text_round_trips_and_stores_ciphertext(
    tables: AsyncSession, configured: FieldKeyring, backend: str
) -> None:
    secret = f"Zoë 850101-1234 ({backend})"
    tables.add(Card(label="a", national_id=secret))
    tables.add(Card(label="b", national_id=None))
    tables.add(Card(label="c", national_id="v1.deadbeef.AAAA"))  # looks like a token
    await tables.flush()
    tables.expunge_all()

    raw = await _raw_national_id(tables, "a")
    assert raw is not None
    assert raw.startswith(f"v1.{configured.current_kid}.")
    assert secret not in raw and "850101" not in raw
    assert configured.decrypt(raw) == secret
    assert await _raw_national_id(tables, "b") is None

    # A token-shaped plaintext is still encrypted, not stored as given.
    raw_c = await _raw_national_id(tables, "c")
    assert raw_c != "v1.deadbeef.AAAA"
    assert raw_c is not None and configured.decrypt(raw_c) == "v1.deadbeef.AAAA"

    loaded = {
        card.label: card.national_id for card in (await tables.execute(select(Card))).scalars()
    }
    assert loaded == {"a": secret, "b": None, "c": "v1.deadbeef.AAAA"}


async def test_encrypted_text_follows_a_key_rotation(
    tables: AsyncSession, configured: FieldKeyring, field_key: str
) -> None:
    tables.add(Card(label="old", national_id="A-998877"))
    await tables.flush()
    tables.expunge_all()

    new = new_key()
    configure_field_encryption(FieldKeyring(new, previous=[field_key]))
    card = (await tables.execute(select(Card).where(Card.label == "old"))).scalar_one()
    assert card.national_id == "A-998877"
    raw = await _raw_national_id(tables, "old")
    assert raw is not None and field_keyring().needs_rotation(raw)

    # Re-saving the row re-encrypts it under the current key.
    flag_modified(card, "national_id")
    await tables.flush()
    raw = await _raw_national_id(tables, "old")
    assert raw is not None and not field_keyring().needs_rotation(raw)
    assert field_keyring().kid_of(raw) == FieldKeyring(new).current_kid

    # Rows under a key that has left the ring fail loudly instead of reading back garbage.
    tables.add(Card(label="orphan", national_id="C-445566"))
    await tables.flush()
    configure_field_encryption(FieldKeyring(new_key()))
    with pytest.raises(UnknownKeyError, match="not in the keyring"):
        (await tables.execute(select(Card.national_id).where(Card.label == "orphan"))).scalar_one()
