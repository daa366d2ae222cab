"""A throwaway PostgreSQL cluster for the test session.

Started from the system's PostgreSQL binaries (initdb + pg_ctl) in a temporary directory,
listening on a free port on 127.0.0.1, removed afterwards. initdb refuses to run as root,
so as root the cluster runs as the unprivileged ``postgres`` user (via runuser).

Missing binaries are an error, never a skip: CI must not pass without PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEST_DATABASE = "clinicdesk_test"
SUPERUSER = "clinicdesk"
# The role the application connects as in tests: owns no table, so row-level security and
# the insert-only audit trail apply to it exactly as in production.
APP_ROLE = "clinicdesk_app"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_pg_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl."""
    found = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            version = re.match(r"\d+", candidate.parent.name)
            found.append((int(version.group()) if version else 0, candidate))
    if not found:
        initdb = shutil.which("initdb")
        if initdb:
            return Path(initdb).resolve().parent
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install Debian's "
            "postgresql package (the test command does), or set CLINICDESK_TEST_POSTGRES_URL."
        )
    return max(found)[1]


@dataclass
class ThrowawayPostgres:
    base_dir: Path
    bindir: Path
    port: int
    run_as: str | None
    bare: bool = False
    """Only the cluster and its superuser: no test database, no application role (for a
    test that creates its own roles, as an operator would)."""

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url(self, database: str = TEST_DATABASE, *, role: str = SUPERUSER) -> str:
        return f"postgresql+asyncpg://{role}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = TEST_DATABASE) -> None:
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        )

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = " ".join(
            (
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-c unix_socket_directories={self.base_dir}",
                # A throwaway cluster: durability off, speed on.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            )
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.base_dir / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if self.bare:
            return
        self.create_database(TEST_DATABASE)
        self.psql(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        # Tests create scratch tables as the application role; production grants no CREATE.
        self.psql(f"GRANT CREATE ON SCHEMA public TO {APP_ROLE}")

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_throwaway_postgres(*, bare: bool = False) -> ThrowawayPostgres:
    bindir = find_pg_bindir()
    base_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-pg-"))
    run_as: str | None = None
    if os.geteuid() == 0:
        run_as = "postgres"
        try:
            account = pwd.getpwnam(run_as)
        except KeyError as exc:
            raise RuntimeError(
                "running as root, but there is no 'postgres' user to run initdb as; "
                "install Debian's postgresql package"
            ) from exc
        os.chown(base_dir, account.pw_uid, account.pw_gid)
    server = ThrowawayPostgres(
        base_dir=base_dir, bindir=bindir, port=free_port(), run_as=run_as, bare=bare
    )
    try:
        server.start()
    except BaseException:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    return server
