"""``clinicdesk serve --workers 2``: forked workers on one port, as real processes.

The supervisor serves once its workers are up, passes SIGTERM on and waits for them, and
replaces a worker that dies. A worker that cannot start stops the whole server with its
error (before, the supervisor kept running with nothing listening). A worker left without
its supervisor stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from clinicdesk.cli import GRACEFUL_SHUTDOWN_SECONDS
from clinicdesk.core.db import Database
from tests.support.postgres import free_port
from tests.support.server import REPOSITORY, ServerProcess, server_process

# Starting Python and importing the application is not part of what is measured.
MARGIN_SECONDS = 20
TWO_WORKERS = {"CLINICDESK_WORKERS": "2"}


def events(server: ServerProcess) -> list[dict[str, Any]]:
    found = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def named(server: ServerProcess, event: str) -> list[dict[str, Any]]:
    return [e for e in events(server) if e.get("event") == event]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (NotADirectoryError, FileNotFoundError, PermissionError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def address(server: ServerProcess) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


async def test_two_workers_serve_and_stop_on_sigterm(
    db: Database, database_url: str, migrated_data_dir: Path
) -> None:
    env = {**TWO_WORKERS, "CLINICDESK_REQUEST_HEADER_TIMEOUT_SECONDS": "1"}
    if db.kind == "postgresql":
        env["CLINICDESK_DATABASE_URL"] = database_url
    await asyncio.to_thread(serve_two_workers_then_stop, migrated_data_dir, env)


def serve_two_workers_then_stop(data_dir: Path, env: dict[str, str]) -> None:
    with server_process(data_dir, env=env) as server:
        wait_for(lambda: len(named(server, "worker.ready")) == 2, 60, "both workers ready")
        workers = children(server.process.pid)
        assert len(workers) == 2
        for _ in range(6):
            response = httpx.get(f"{server.url}/health/ready", timeout=10)
            assert response.status_code == 200
            assert "server" not in response.headers

        # The header-read bound holds in a forked worker as in a single server.
        with socket.create_connection(address(server), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: clinic.test\r\n")
            assert slow.recv(4096).startswith(b"HTTP/1.1 408")

        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + MARGIN_SECONDS)
        assert not any(alive(pid) for pid in workers)
        assert len(named(server, "clinicdesk.stopped")) == 2  # each app shut down properly
        assert "worker.failed_to_start" not in server.log()


def serve_expecting_failure(tmp_path: Path, command: list[str], **env: str) -> tuple[int, str, str]:
    """Exit code, stderr and stdout of a server that must stop by itself."""
    environment = {
        **{k: v for k, v in os.environ.items() if k != "CLINICDESK_DATABASE_URL"},
        **TWO_WORKERS,
        "CLINICDESK_DATA_DIR": str(tmp_path / "data"),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_PORT": str(free_port()),
        **env,
    }
    result = subprocess.run(
        command,
        env=environment,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=90,  # before: it never ended
        check=False,
    )
    for line in result.stdout.splitlines():
        if '"worker.started"' in line:
            assert not alive(json.loads(line)["pid"])
    return result.returncode, result.stderr, result.stdout


def test_a_worker_that_cannot_build_its_app_stops_the_server(tmp_path: Path) -> None:
    """A real misconfiguration the supervisor does not check itself: the browser
    libraries are missing, so every worker's create_app fails."""
    empty = tmp_path / "no-assets"
    empty.mkdir()
    code, stderr, _ = serve_expecting_failure(
        tmp_path,
        [sys.executable, "-m", "clinicdesk", "serve"],
        CLINICDESK_ASSETS_DIR=str(empty),
    )
    said = " ".join(stderr.split())
    assert code == 3
    assert re.search(r"ClinicDesk could not start: worker \d ended before it was ready", said)
    assert "BrowserAssetsMissing: ClinicDesk's browser libraries were not found" in said


def test_a_worker_whose_start_up_fails_stops_the_server(tmp_path: Path) -> None:
    """The application's own start-up (its lifespan) fails: uvicorn logs it and exits;
    the supervisor passes on what it logged."""
    code, stderr, _ = serve_expecting_failure(
        tmp_path,
        [
            sys.executable,
            "-m",
            "tests.support.server",
            "tests.support.server:app_failing_at_startup",
            "serve",
        ],
    )
    said = " ".join(stderr.split())
    assert code == 3
    assert re.search(r"ClinicDesk could not start: worker \d ended before it was ready", said)
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in said


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_pending_migrations_on_postgresql_are_refused_before_any_worker_starts(
    fresh_database_url: str, tmp_path: Path
) -> None:
    code, stderr, stdout = await asyncio.to_thread(
        serve_expecting_failure,
        tmp_path,
        [sys.executable, "-m", "clinicdesk", "serve"],
        CLINICDESK_DATABASE_URL=fresh_database_url,
    )
    assert code == 3
    assert "clinicdesk db upgrade" in stderr
    assert "0001_baseline" in stderr
    assert "supervisor.started" not in stdout


def test_a_dead_worker_is_replaced_and_workers_outlive_no_supervisor(
    migrated_data_dir: Path,
) -> None:
    with server_process(migrated_data_dir, env=TWO_WORKERS) as server:
        wait_for(lambda: len(named(server, "worker.ready")) == 2, 60, "both workers ready")
        first, second = sorted(children(server.process.pid))

        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(named(server, "worker.ready")) == 3, 60, "a replacement ready")
        [died] = named(server, "worker.died")
        assert died["pid"] == first
        assert died["status"] == "killed by SIGKILL"
        workers = children(server.process.pid)
        assert second in workers
        assert len(workers) == 2
        assert httpx.get(f"{server.url}/health/ready", timeout=10).status_code == 200

        # Killed outright, the supervisor cannot pass anything on: the workers notice.
        server.process.kill()
        server.process.wait(timeout=10)
        wait_for(
            lambda: not any(alive(pid) for pid in workers),
            GRACEFUL_SHUTDOWN_SECONDS + MARGIN_SECONDS,
            "the workers stopped",
        )
        assert len(named(server, "supervisor.gone")) == 2
        assert len(named(server, "clinicdesk.stopped")) == 2  # not the one killed first
        with socket.socket() as probe:
            assert probe.connect_ex(address(server)) != 0  # nothing listens any more
