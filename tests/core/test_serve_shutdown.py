"""``clinicdesk serve`` stops promptly on SIGTERM although connections are still open.

uvicorn, told to stop, waits for open responses to finish, and a live-event stream never
finishes by itself. Two guards: the stop signal ends every stream at once (``core.sse``),
and anything else still open is cancelled after ``GRACEFUL_SHUTDOWN_SECONDS``.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from clinicdesk.cli import GRACEFUL_SHUTDOWN_SECONDS
from clinicdesk.core.db import Database, session_scope
from clinicdesk.core.events import Event, publish_after_commit
from tests.support.server import server_process

# Starting Python and importing the application is not part of the shutdown.
MARGIN_SECONDS = 10


def wait_for_exit(process: subprocess.Popen[bytes], seconds: float) -> None:
    process.wait(timeout=seconds)  # TimeoutExpired: it did not stop


def test_serve_stops_within_seconds_with_a_request_still_open(migrated_data_dir: Path) -> None:
    """A request whose body never finishes arriving holds its connection open: the server
    cancels it after the grace period and stops."""
    with server_process(migrated_data_dir) as server:
        address = urlsplit(server.url)
        assert address.hostname is not None
        assert address.port is not None
        with socket.create_connection((address.hostname, address.port), timeout=10) as stuck:
            stuck.sendall(
                b"POST /api/v1/auth/token HTTP/1.1\r\n"
                b"Host: clinic.test\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\n"
                b"username="
            )
            time.sleep(0.5)  # the request is in the application, waiting for its body
            server.process.send_signal(signal.SIGTERM)
            wait_for_exit(server.process, GRACEFUL_SHUTDOWN_SECONDS + MARGIN_SECONDS)
        log = server.log()
    assert "timeout graceful shutdown exceeded" in log  # the request really was open
    assert "clinicdesk.stopped" in log  # and the application shut down properly


async def test_open_event_streams_end_at_once_when_serve_is_stopped(
    db: Database, database_url: str, migrated_data_dir: Path
) -> None:
    """A server with a live-event stream open stops on SIGTERM without waiting for the
    grace period: the stream ends cleanly (the browser reconnects elsewhere). On
    PostgreSQL the server's relay also delivers what another process commits."""
    env = {"CLINICDESK_DATABASE_URL": database_url} if db.kind == "postgresql" else None
    with server_process(
        migrated_data_dir, env=env, app_factory="tests.support.server:app_with_test_stream"
    ) as server:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
            client.stream("GET", "/test/events") as response,
        ):
            assert response.status_code == 200
            chunks = response.aiter_text()
            async with asyncio.timeout(10):
                assert (await anext(chunks)).startswith("retry: ")

            if db.kind == "postgresql":
                sent = Event(organization_id=None, type="test.ping", data={"n": 1})
                async with session_scope(db) as session:
                    publish_after_commit(session, sent)
                async with asyncio.timeout(10):
                    assert f"id: {sent.id}" in await anext(chunks)

            server.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GRACEFUL_SHUTDOWN_SECONDS):
                rest = [chunk async for chunk in chunks]  # ends without an error
            assert not any(chunk.startswith("event: ") for chunk in rest)
        await asyncio.to_thread(wait_for_exit, server.process, MARGIN_SECONDS)
        log = server.log()
    assert "timeout graceful shutdown exceeded" not in log
    assert "Exception in ASGI application" not in log
    assert "clinicdesk.stopped" in log
