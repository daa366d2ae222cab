"""Both of uvicorn's HTTP protocols, as ClinicDesk runs them, bound the time to send the
request headers: a client that trickles them gets 408 and is disconnected, while a
client that sends them at once (and keeps its connection for a second request) is
served normally."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from clinicdesk.core import server as protocols
from tests.support.postgres import free_port

TIMEOUT = 0.5


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


@pytest.mark.parametrize("protocol", ["H11WithHeaderTimeout", "HttpToolsWithHeaderTimeout"])
async def test_slow_headers_get_408_and_prompt_ones_are_served(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocols, "header_timeout_seconds", lambda: TIMEOUT)
    port = free_port()
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=port,
        http=getattr(protocols, protocol),
        log_config=None,
        lifespan="off",
        timeout_keep_alive=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 5 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        # Prompt: two requests on one connection, the second after a pause longer than
        # the header bound (the bound starts when a request may begin, not per connection).
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(4096), 2)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(TIMEOUT / 2)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(4096), 2)).startswith(b"HTTP/1.1 200")
        writer.close()

        # Slow: half the headers, then nothing.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < TIMEOUT + 1
        assert await asyncio.wait_for(reader.read(4096), 2) == b""  # closed
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
