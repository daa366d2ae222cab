"""The `clinicdesk` command: help everywhere, migrations, serve's refusal, the demo's care."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from clinicdesk import __version__, cli
from clinicdesk.cli import DEMO_MARKER, app
from clinicdesk.config import Settings
from clinicdesk.core import migrations
from clinicdesk.core.db import Database
from clinicdesk.core.sqlite_driver import sqlite_version

runner = CliRunner()


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["demo"], ["version"], ["db"], ["db", "upgrade"], ["db", "current"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    code, output = invoke([*command, "--help"])
    assert code == 0
    assert "Usage" in output


def test_version_names_the_sqlite_library() -> None:
    code, output = invoke(["version"])
    assert code == 0
    assert f"ClinicDesk {__version__}" in output
    assert sqlite_version() in output


async def test_db_upgrade_and_current(fresh_database_url: str, tmp_path: Path) -> None:
    env = {"CLINICDESK_DATABASE_URL": fresh_database_url, "CLINICDESK_DATA_DIR": str(tmp_path)}

    code, output = await asyncio.to_thread(invoke, ["db", "current"], env)
    assert code == 1
    assert "not migrated yet" in output
    assert "Pending: 0001_baseline, " in output

    code, output = await asyncio.to_thread(invoke, ["db", "upgrade"], env)
    assert code == 0, output
    assert "Database upgraded" in output

    code, output = await asyncio.to_thread(invoke, ["db", "current"], env)
    assert code == 0
    assert f"Current revision: {migrations.head_revisions()[0]}" in output
    assert "Up to date." in output

    code, output = await asyncio.to_thread(invoke, ["db", "upgrade"], env)
    assert code == 0
    assert "up to date" in output


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_serve_refuses_pending_migrations_on_postgresql(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = {"CLINICDESK_DATABASE_URL": fresh_database_url, "CLINICDESK_DATA_DIR": str(tmp_path)}
    code, output = await asyncio.to_thread(invoke, ["serve", "--port", "1"], env)
    assert code == 3
    assert "clinicdesk db upgrade" in output
    assert "0001_baseline" in output


def test_bad_database_url_is_a_clear_configuration_error(tmp_path: Path) -> None:
    env = {"CLINICDESK_DATABASE_URL": "mysql://x@y/z", "CLINICDESK_DATA_DIR": str(tmp_path)}
    code, output = invoke(["db", "current"], env)
    assert code == 2
    assert "Configuration error" in output
    assert "PostgreSQL" in output


def test_demo_never_deletes_a_directory_that_is_not_a_demo(tmp_path: Path) -> None:
    precious = tmp_path / "real-clinic"
    precious.mkdir()
    (precious / "clinicdesk.db").write_text("patients")
    code, output = invoke(["demo", "--data-dir", str(precious), "--port", "1"])
    assert code == 2
    assert "not a ClinicDesk demo directory" in output
    assert (precious / "clinicdesk.db").read_text() == "patients"


def test_demo_directory_is_recreated(tmp_path: Path) -> None:
    from clinicdesk.cli import _fresh_demo_dir

    target = tmp_path / "demo"
    _fresh_demo_dir(target)
    (target / "leftover.db").write_text("old demo")
    _fresh_demo_dir(target)
    assert (target / DEMO_MARKER).is_file()
    assert not (target / "leftover.db").exists()
    assert oct(target.stat().st_mode & 0o777) == "0o700"


# What `serve` must not load on the usual start (an up-to-date database, no Redis): each
# costs start-up time and memory in every server process (benchmarks/README.md).
NOT_LOADED_BY_SERVE = ("alembic", "redis", "faker", "zxcvbn", "rich.progress")


async def test_serve_prepares_an_up_to_date_database_without_loading_what_it_does_not_need(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    probe = (
        "import asyncio, sys\n"
        "from clinicdesk import cli\n"
        "settings = cli._settings()\n"
        "prepared = cli._prepare_database(settings, auto_upgrade=False, code_lists='report')\n"
        "asyncio.run(prepared)\n"
        f"print(' '.join(m for m in {(*NOT_LOADED_BY_SERVE, 'asyncpg')!r} if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "CLINICDESK_DATABASE_URL": database_url,
        "CLINICDESK_DATA_DIR": str(tmp_path),
    }
    env.pop("CLINICDESK_REDIS_URL", None)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # asyncpg is PostgreSQL's driver: loaded there, never on SQLite.
    expected = "asyncpg" if db.kind == "postgresql" else ""
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("command", [["audit", "verify"], ["jobs", "list"]])
async def test_a_command_on_a_database_never_migrated_says_what_to_do(
    fresh_database_url: str, tmp_path: Path, command: list[str]
) -> None:
    """As a new user would: the command, before `db upgrade`. A sentence, not a traceback."""
    env = {
        **os.environ,
        "CLINICDESK_DATABASE_URL": fresh_database_url,
        "CLINICDESK_DATA_DIR": str(tmp_path),
    }
    env.pop("CLINICDESK_REDIS_URL", None)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "clinicdesk", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "Run `clinicdesk db upgrade` first" in said
    assert "Traceback" not in said


class _ServerBuildingTheApp:
    """Stands in for uvicorn's server: builds the application the way a worker does
    (``create_app()`` from the environment) and keeps it, instead of listening."""

    built: FastAPI | None = None

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.started = True

    def run(self) -> None:
        factory = cast(Callable[[], FastAPI], self.config.app)
        type(self).built = factory()


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        (None, "http://127.0.0.1:8137"),
        ("https://clinic.example.org/", "https://clinic.example.org"),
    ],
)
def test_the_served_app_links_to_the_port_it_serves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, public_url: str | None, expected: str
) -> None:
    """`demo --port` / `serve --port`: links in e-mails lead to the address served (or
    to CLINICDESK_PUBLIC_URL), not to the default port 8000."""
    monkeypatch.setenv("CLINICDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.delenv("CLINICDESK_PORT", raising=False)
    monkeypatch.delenv("CLINICDESK_HOST", raising=False)
    if public_url:
        monkeypatch.setenv("CLINICDESK_PUBLIC_URL", public_url)
    else:
        monkeypatch.delenv("CLINICDESK_PUBLIC_URL", raising=False)
    monkeypatch.setattr(uvicorn, "Server", _ServerBuildingTheApp)
    settings = Settings()

    cli._serve(settings, host="127.0.0.1", port=8137, workers=1)

    built = _ServerBuildingTheApp.built
    assert built is not None
    assert built.state.identity.base_url == expected


def test_a_wildcard_listening_address_is_not_put_in_links() -> None:
    assert Settings(host="0.0.0.0", port=8140).base_url == "http://127.0.0.1:8140"  # noqa: S104
    assert Settings(host="::1", port=8140).base_url == "http://[::1]:8140"
