"""A real ClinicDesk server process (``clinicdesk serve``) for browser and process tests.

``python -m tests.support.server FACTORY serve`` is ``clinicdesk serve`` running another
application factory (``module:function``): for tests that need a route the product does
not have, such as ``app_with_test_stream``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.sse import EventSourceResponse

from tests.support.postgres import free_port

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``clinicdesk serve`` on a free port on 127.0.0.1; yield its base URL."""
    with server_process(data_dir, env=env) as server:
        yield server.url


@contextmanager
def server_process(
    data_dir: Path, *, env: dict[str, str] | None = None, app_factory: str | None = None
) -> Iterator[ServerProcess]:
    """``running_server``, yielding the process too (to signal it and read its log).
    With ``app_factory``, the server runs that factory instead of ClinicDesk's own."""
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
    command = [sys.executable, "-m", "clinicdesk", "serve"]
    if app_factory is not None:
        command = [sys.executable, "-m", "tests.support.server", app_factory, "serve"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPOSITORY if app_factory is not None else None,
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
        yield ServerProcess(url=base_url, process=process, log_path=log_path)
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


def app_with_test_stream() -> FastAPI:
    """ClinicDesk plus ``GET /test/events``: every live event, to anyone, as server-sent
    events (tests only; the product's stream decides who may see what)."""
    from clinicdesk.app import create_app
    from clinicdesk.core.sse import STREAM_HEADERS, STREAM_RESPONSES, event_stream

    app = create_app()

    async def always() -> bool:
        return True

    @app.get("/test/events", responses=STREAM_RESPONSES)
    async def test_events(request: Request) -> EventSourceResponse:
        stream = event_stream(
            last_event_id=request.headers.get("last-event-id"),
            select=lambda event: event.data,
            still_allowed=always,
        )
        return EventSourceResponse(stream, headers=STREAM_HEADERS)

    return app


def app_failing_at_startup() -> FastAPI:
    """ClinicDesk whose start-up (its lifespan) fails the way it does when a service it
    needs refuses the connection: uvicorn logs the error and exits."""
    from clinicdesk.app import create_app

    app = create_app()

    @asynccontextmanager
    async def refused(_app: FastAPI) -> AsyncIterator[None]:
        # Nothing listens on a free port: the connection is refused, as by a service
        # that is down.
        _reader, writer = await asyncio.open_connection("127.0.0.1", free_port())
        writer.close()
        yield

    app.router.lifespan_context = refused
    return app


if __name__ == "__main__":
    from clinicdesk import cli

    cli.APP_FACTORY = sys.argv.pop(1)
    cli.main()
