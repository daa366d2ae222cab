"""Clients that send a request slowly cannot hold the server: over real HTTP, fifty
clients trickling a body and ten trickling their headers are each answered 408 (and
disconnected) within the configured bound, while the server keeps answering others at
once and its memory stays put."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.support.server import server_process

TIMEOUT_SECONDS = 2.0
SLOW_BODIES = 50
SLOW_HEADERS = 10
# Bytes a slow client sends per step, and the pause between steps.
TRICKLE_PAUSE_SECONDS = 0.5
GIVE_UP_SECONDS = TIMEOUT_SECONDS + 3.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def trickle(port: int, head: bytes, drip: bytes) -> tuple[bytes, float]:
    """Send ``head`` at once, then ``drip`` one byte per pause until the server answers
    or closes; return what it answered and after how many seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head)
    await writer.drain()
    answer = b""
    try:
        for byte in drip:
            if time.monotonic() - started > GIVE_UP_SECONDS:
                break  # the server is still reading: the bound did not hold
            try:
                answer = await asyncio.wait_for(reader.read(4096), TRICKLE_PAUSE_SECONDS)
            except TimeoutError:
                writer.write(bytes([byte]))
                await writer.drain()
                continue
            break
        # The answer may come in pieces; read until the server closes (bounded).
        while answer:
            more = await asyncio.wait_for(reader.read(4096), 5)
            if not more:
                break
            answer += more
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    return answer, time.monotonic() - started


async def test_slow_requests_get_408_within_the_bound_and_stay_bounded(
    migrated_data_dir: Path,
) -> None:
    env = {
        "CLINICDESK_REQUEST_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "CLINICDESK_REQUEST_BODY_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    with server_process(migrated_data_dir, env=env) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=server.url) as client:
            for _ in range(20):  # warm up, so the memory figure is the steady state's
                assert (await client.get("/health")).status_code == 200
            before = rss_kib(server.process.pid)

            body = b"username=a%40example.org&password=" + b"x" * 200
            body_head = (
                b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            header_drip = b"X-Slow: " + b"a" * 60 + b"\r\n\r\n"
            slow = [trickle(port, body_head, body) for _ in range(SLOW_BODIES)]
            slow += [
                trickle(port, b"GET /health HTTP/1.1\r\nHost: x\r\n", header_drip)
                for _ in range(SLOW_HEADERS)
            ]
            tasks = [asyncio.ensure_future(s) for s in slow]

            await asyncio.sleep(0.5)
            health_times = []
            for _ in range(5):
                started = time.monotonic()
                assert (await client.get("/health")).status_code == 200
                health_times.append(time.monotonic() - started)
                await asyncio.sleep(0.2)
            results = await asyncio.gather(*tasks)
            after = rss_kib(server.process.pid)
            assert (await client.get("/health")).status_code == 200

    assert max(health_times) < 1.5, health_times
    for answer, seconds in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert seconds < TIMEOUT_SECONDS + 2.0, seconds
    bodies = [answer for answer, _ in results[:SLOW_BODIES]]
    assert all(b"urn:clinicdesk:problem:request-timeout" in a for a in bodies), bodies[0]
    assert after - before < 20 * 1024, (before, after)  # KiB
