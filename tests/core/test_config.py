"""Settings: environment, .env, defaults and URL handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clinicdesk.config import Settings, default_data_dir, normalize_database_url


def test_defaults_put_sqlite_in_the_per_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLINICDESK_DATA_DIR", raising=False)
    monkeypatch.delenv("CLINICDESK_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.data_dir == default_data_dir().resolve()
    assert settings.resolved_database_url == (
        f"sqlite+aiosqlite:///{default_data_dir().resolve() / 'clinicdesk.db'}"
    )
    assert settings.database_kind == "sqlite"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINICDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", "postgresql://u:p@db.internal/clinic")
    monkeypatch.setenv("CLINICDESK_WORKERS", "4")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path.resolve()
    assert settings.resolved_database_url == "postgresql+asyncpg://u:p@db.internal/clinic"
    assert settings.database_kind == "postgresql"
    assert settings.workers == 4


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLINICDESK_PORT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("CLINICDESK_PORT=9123\nCLINICDESK_LOG_LEVEL=WARNING\n")
    settings = Settings(_env_file=env_file)
    assert settings.port == 9123
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("postgresql+psycopg://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("sqlite:////var/lib/c.db", "sqlite+aiosqlite:////var/lib/c.db"),
    ],
)
def test_database_urls_are_mapped_to_the_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://a@h/d", "just-a-path.db"])
def test_unsupported_database_urls_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"SQLite|scheme"):
        Settings(database_url=bad, _env_file=None)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000, _env_file=None)


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"CLINICDESK_{name.upper()}" in example, name


def test_empty_values_in_dotenv_mean_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A copied .env.example (all values empty) must not yield an empty secret or path."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"CLINICDESK_{name.upper()}", raising=False)
    example = Path(__file__).parents[2] / ".env.example"
    settings = Settings(_env_file=example)
    assert settings.secret_key is None
    assert settings.field_encryption_key is None
    assert settings.metrics_token is None
    assert settings.data_dir == default_data_dir().resolve()
    assert settings.database_url is None
