"""The README's PostgreSQL set-up, run literally on a fresh server.

The two code blocks of README "### PostgreSQL" are read from the README itself, so they
cannot drift from what is tested: the SQL runs as the cluster's superuser, one statement
at a time as psql would; every line of the shell block runs as written, with
``uv run clinicdesk`` being this interpreter's ``clinicdesk`` and ``db.example`` the
test server's address. The owner is not a superuser; the server runs as the app role.
Then a sign-in, a write, and a password-reset mail (a job the server's runner must claim
across organizations).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from clinicdesk.config import Settings
from clinicdesk.core.db import create_database
from tests.support.postgres import ThrowawayPostgres, free_port, start_throwaway_postgres

README = Path(__file__).resolve().parents[1] / "README.md"
CLI = [sys.executable, "-m", "clinicdesk"]


def readme_blocks() -> tuple[str, str]:
    """The ```sql and ```bash blocks of the README's PostgreSQL section."""
    text = README.read_text()
    section = text[text.index("### PostgreSQL") :]
    section = section[: section.index("\n## ")]
    sql = re.search(r"```sql\n(.*?)```", section, re.S)
    bash = re.search(r"```bash\n(.*?)```", section, re.S)
    assert sql and bash, "README's PostgreSQL section lost its sql or bash block"
    return sql.group(1), bash.group(1)


@pytest.fixture(scope="module")
def bare_postgres() -> Iterator[ThrowawayPostgres]:
    server = start_throwaway_postgres(bare=True)
    try:
        yield server
    finally:
        server.stop()


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, timeout=180
    )
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _is_superuser(url: str) -> bool:
    async def ask() -> bool:
        db = create_database(Settings(database_url=url).resolved_database_url, pool_size=1)
        try:
            async with db.engine.connect() as connection:
                privileged = await connection.scalar(
                    text(
                        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
                    )
                )
        finally:
            await db.dispose()
        return bool(privileged)

    return asyncio.run(ask())


def test_the_readmes_two_role_setup_works_as_written(
    bare_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    sql, bash = readme_blocks()
    for statement in filter(None, (s.strip() for s in sql.split(";"))):
        bare_postgres.psql(statement, database="postgres")

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLINICDESK_")},
        "CLINICDESK_DATA_DIR": str(tmp_path / "data"),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_LOG_LEVEL": "WARNING",
    }
    if "CLINICDESK_ASSETS_DIR" in os.environ:
        env["CLINICDESK_ASSETS_DIR"] = os.environ["CLINICDESK_ASSETS_DIR"]
    address = f"127.0.0.1:{bare_postgres.port}"
    server: subprocess.Popen[bytes] | None = None
    password = None
    log_path = tmp_path / "serve.log"
    try:
        for raw in bash.splitlines():
            line = raw.split("  #")[0].strip().replace("db.example", address)
            if not line:
                continue
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                env[name] = value
                continue
            words = shlex.split(line)
            assert words[:3] == ["uv", "run", "clinicdesk"], f"a README step the test lacks: {line}"
            command = CLI + words[3:]
            if words[3] == "serve":
                with log_path.open("wb") as log:
                    server = subprocess.Popen(
                        command, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                continue
            output = _run(command, env)
            found = re.search(r"Password: (\S+)", output)
            password = found.group(1) if found else password
        assert server is not None, "the README's block no longer starts the server"
        assert password is not None, "the README's block no longer creates an admin"
        owner_url = env["CLINICDESK_DATABASE_OWNER_URL"]
        app_url = env["CLINICDESK_DATABASE_URL"]
        assert not _is_superuser(owner_url), "the README's owner must not be a superuser"
        assert not _is_superuser(app_url)

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # generous: CI machines are shared
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)

        with httpx.Client(base_url=base, timeout=10) as client:
            signed_in = client.post(
                "/api/v1/auth/token",
                data={"username": "admin@clinic.example", "password": password},
            )
            assert signed_in.status_code == 200, signed_in.text
            bearer = {"authorization": f"Bearer {signed_in.json()['access_token']}"}
            enrolment = client.post("/api/v1/me/mfa", headers=bearer)
            assert enrolment.status_code in (200, 201), enrolment.text
            reset = client.post(
                "/api/v1/auth/password-reset", json={"email": "admin@clinic.example"}
            )
            assert reset.status_code == 202, reset.text

        # The server's job runner (the app role) claims the mail job and sends it.
        mail_dir = tmp_path / "data" / "mail"
        deadline = time.monotonic() + 60
        while not (mail_dir.is_dir() and any(mail_dir.iterdir())):
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert "Traceback" not in log_path.read_text()
