"""`clinicdesk backup`, `backup verify`, `restore`, and the backup `db upgrade` offers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinicdesk import backup_cli
from clinicdesk.cli import app
from clinicdesk.core import migrations
from clinicdesk.core.db import create_database
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY
from tests.support.backups import BACKUP_KEY, install, patients_and_documents
from tests.test_cli_identity import base_env

Env = dict[str, str | None]


async def run(args: list[str], env: Env, stdin: str | None = None) -> tuple[int, str]:
    def invoke() -> tuple[int, str]:
        result = CliRunner().invoke(app, args, env=env, input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    # The command calls asyncio.run itself, so it runs outside the test's event loop.
    return await asyncio.to_thread(invoke)


def env_for(data_dir: Path, **values: str | None) -> Env:
    defaults: Env = {
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
        "CLINICDESK_BACKUP_KEY": None,
    }
    return base_env(data_dir, **(defaults | values))


def archives(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.cdbackup"))


@pytest.mark.parametrize("command", [["backup"], ["backup", "verify"], ["restore"]])
async def test_backup_commands_have_help(command: list[str]) -> None:
    code, output = await run([*command, "--help"], {})
    assert code == 0
    assert "Usage" in output


async def test_back_up_verify_and_restore_from_the_command_line(tmp_path: Path) -> None:
    site = await install(tmp_path / "clinic")
    data_dir = site.settings.data_dir
    out = tmp_path / "backups"
    out.mkdir()

    code, output = await run(["backup", "--output", str(out)], env_for(data_dir))
    assert code == 0, output
    assert "Backup written" in output
    assert "A backup key was generated" in output
    key = (data_dir / "secrets" / "backup_key").read_text().strip()
    (archive,) = archives(out)

    code, output = await run(["backup", "verify", str(archive)], env_for(data_dir))
    assert code == 0, output
    assert "Backup verified" in output

    code, output = await run(["restore", str(archive)], env_for(data_dir))
    assert code == 1
    assert "already holds a database" in output
    assert "--force" in output

    elsewhere = tmp_path / "new-server"
    code, output = await run(
        ["restore", str(archive), "--data-dir", str(elsewhere)], env_for(tmp_path / "ignored")
    )
    assert code == 1
    assert "No backup key" in output
    code, output = await run(
        ["restore", str(archive), "--data-dir", str(elsewhere)],
        env_for(tmp_path / "ignored", CLINICDESK_BACKUP_KEY=key),
    )
    assert code == 0, output
    assert "Restored the backup" in output
    assert "not in place" not in output  # the field key the data needs is configured
    restored, _ = await patients_and_documents(f"sqlite+aiosqlite:///{elsewhere / 'clinicdesk.db'}")
    original, _ = await patients_and_documents(site.settings.resolved_database_url)
    assert restored == original

    code, output = await run(["restore", str(archive), "--force"], env_for(data_dir))
    assert code == 0, output
    assert list(data_dir.glob("clinicdesk.db.replaced-*"))

    altered = tmp_path / "altered.cdbackup"
    content = bytearray(archive.read_bytes())
    content[-20] ^= 0x01
    altered.write_bytes(bytes(content))
    code, output = await run(["backup", "verify", str(altered)], env_for(data_dir))
    assert code == 1
    assert "damaged or was altered" in output


async def test_db_upgrade_offers_a_backup_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = create_database(f"sqlite+aiosqlite:///{data_dir / 'clinicdesk.db'}", pool_size=1)
    try:
        await migrations.upgrade(db, "0003_patients")
    finally:
        await db.dispose()
    env = env_for(data_dir, CLINICDESK_BACKUP_KEY=BACKUP_KEY)
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)

    # At a terminal: offered, yes by default, into the current folder.
    monkeypatch.setattr(backup_cli, "at_terminal", lambda: True)
    code, output = await run(["db", "upgrade", "--revision", "0004_scheduling"], env, stdin="\n")
    assert code == 0, output
    assert "Take a backup before migrating?" in output
    assert "Backup taken" in output
    assert len(archives(here)) == 1

    # A script: advice only, and the migration goes ahead.
    monkeypatch.setattr(backup_cli, "at_terminal", lambda: False)
    code, output = await run(["db", "upgrade", "--revision", "0005_queue"], env)
    assert code == 0, output
    assert "Tip: take a backup before migrating" in output
    assert len(archives(here)) == 1

    out = tmp_path / "before-upgrade"
    out.mkdir()
    code, output = await run(["db", "upgrade", "--backup", str(out)], env)
    assert code == 0, output
    assert "sqlite database at 0005_queue" in output
    assert "Database upgraded" in output
    assert len(archives(out)) == 1
    code, output = await run(["db", "upgrade", "--no-backup"], env)
    assert code == 0, output
    assert "up to date" in output
