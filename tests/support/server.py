"""A real ClinicDesk server process (``clinicdesk serve``) for browser and process tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port


@contextmanager
def running_server(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``clinicdesk serve`` on a free port on 127.0.0.1; yield its base URL."""
    port = free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    environment = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_PORT": str(port),
        **(env or {}),
    }
    if not env or "CLINICDESK_DATABASE_URL" not in env:
        environment.pop("CLINICDESK_DATABASE_URL", None)  # the embedded SQLite default
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "clinicdesk", "serve"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_cli(data_dir: Path, *args: str) -> str:
    """Run ``clinicdesk ARGS`` against the data directory of a test server."""
    environment = {**os.environ, "CLINICDESK_DATA_DIR": str(data_dir)}
    environment.pop("CLINICDESK_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "clinicdesk", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"clinicdesk {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
