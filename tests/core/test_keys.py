"""Keys: generated once into the data directory, owner-only, or taken from the environment."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from clinicdesk.config import Settings
from clinicdesk.core.keys import load_or_create_keys


def settings_for(data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None, **extra)  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_generated_with_owner_only_permissions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = load_or_create_keys(settings_for(data_dir))
    secrets_dir = data_dir / "secrets"
    assert mode(data_dir) == 0o700
    assert mode(secrets_dir) == 0o700
    for name in ("secret_key", "field_encryption_key"):
        assert mode(secrets_dir / name) == 0o600
    assert len(keys.secret_key) >= 64
    assert len(base64.urlsafe_b64decode(keys.field_encryption_key)) == 32
    assert not list(secrets_dir.glob(".tmp-*"))


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    first = load_or_create_keys(settings_for(tmp_path))
    second = load_or_create_keys(settings_for(tmp_path))
    assert first == second


def test_each_installation_gets_its_own_keys(tmp_path: Path) -> None:
    one = load_or_create_keys(settings_for(tmp_path / "a"))
    two = load_or_create_keys(settings_for(tmp_path / "b"))
    assert one.secret_key != two.secret_key
    assert one.field_encryption_key != two.field_encryption_key


def test_keys_from_the_environment_win_and_nothing_is_written(tmp_path: Path) -> None:
    field_key = base64.urlsafe_b64encode(b"k" * 32).decode()
    keys = load_or_create_keys(
        settings_for(
            tmp_path / "data",
            secret_key=SecretStr("s" * 64),
            field_encryption_key=SecretStr(field_key),
        )
    )
    assert keys.secret_key == "s" * 64
    assert keys.field_encryption_key == field_key
    assert not (tmp_path / "data").exists()


def test_a_malformed_field_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        load_or_create_keys(settings_for(tmp_path, field_encryption_key=SecretStr("too-short")))


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    load_or_create_keys(settings_for(tmp_path))
    key_file = tmp_path / "secrets" / "secret_key"
    key_file.chmod(0o644)
    (tmp_path / "secrets").chmod(0o755)
    load_or_create_keys(settings_for(tmp_path))
    assert mode(key_file) == 0o600
    assert mode(tmp_path / "secrets") == 0o700


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: load_or_create_keys(settings_for(tmp_path)), range(16)))
    assert len({r.secret_key for r in results}) == 1
    assert len({r.field_encryption_key for r in results}) == 1
