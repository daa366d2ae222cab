"""Live events at a waiting room's scale: 100 display screens hold a stream open on one
`clinicdesk serve` process while the front desk checks patients in.

Measures:
* end-to-end latency from sending a check-in request to the `queue.checked_in` event
  arriving at each of the connected display clients (p50 / p95 over every client and
  check-in, and the p95 of the slowest client per check-in);
* the server's RSS idle, and with the streams open (after the check-ins).

The clients run in this process (one asyncio loop, HTTP/1.1, one connection each) on the
same machine as the server, so the figures include their share of the two cores.

Run: uv run python benchmarks/live_events.py [--clients 100] [--check-ins 40]
     [--database sqlite|postgresql|both]
Bounded: at most --time-limit seconds per database; the server is stopped afterwards;
everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from harness import REPO_ROOT, on_each, percentile
from sqlalchemy.engine import make_url
from startup import free_port, rss_mib

from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
from clinicdesk.core.keys import new_field_encryption_key

sys.path.insert(0, str(REPO_ROOT))  # the test suite's seeding and stream reader
from tests.support.identity import PASSWORD
from tests.support.queue import seed_queue_database
from tests.support.sse import Stream, open_stream


@dataclass
class Result:
    database: str
    clients: int
    check_ins: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    slowest_client_p95_ms: float
    rss_idle_mib: float
    rss_streams_mib: float


FIELD_KEY = new_field_encryption_key()


def _start_server(database_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_DATABASE_URL": database_url,
        "CLINICDESK_LOG_LEVEL": "WARNING",
        "CLINICDESK_FIELD_ENCRYPTION_KEY": FIELD_KEY,
    }
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "clinicdesk", "serve"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()[-3000:]}")


async def _listen(stream: Stream, arrivals: dict[str, float], expected: int) -> None:
    for _ in range(expected):
        event = await stream.next_of("queue.checked_in", seconds=60)
        arrivals[event.data["token"]] = event.at


async def _measure(
    owner_url: str, app_url: str, *, database: str, clients: int, check_ins: int
) -> Result:
    app_role = make_url(app_url).username if app_url != owner_url else None
    qc = await seed_queue_database(owner_url, patients=check_ins, grant_to=app_role)
    data_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-live-bench-"))
    if database == "sqlite":
        app_url = owner_url
    process, url = _start_server(app_url, data_dir)
    try:
        limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            token = await client.post(
                "/api/v1/auth/token", data={"username": qc.desk_email, "password": PASSWORD}
            )
            desk = {"Authorization": f"Bearer {token.json()['access_token']}"}
            admin_token = await client.post(
                "/api/v1/auth/token", data={"username": qc.admin_email, "password": PASSWORD}
            )
            display = await client.post(
                "/api/v1/queue/displays",
                json={"location_id": str(qc.location_id), "name": "Bench TV"},
                headers={"Authorization": f"Bearer {admin_token.json()['access_token']}"},
            )
            secret = display.json()["link"].rsplit("/", 1)[1]
            await asyncio.sleep(2)
            rss_idle = rss_mib(process.pid)

            arrivals: list[dict[str, float]] = [{} for _ in range(clients)]
            sent: dict[str, float] = {}
            async with _Streams(client, secret, clients) as streams:
                listeners = [
                    asyncio.create_task(_listen(s, arrivals[n], check_ins))
                    for n, s in enumerate(streams)
                ]
                for patient_id in qc.patient_ids:
                    started = time.monotonic()
                    answer = await client.post(
                        "/api/v1/queue/walk-ins",
                        json={"patient_id": str(patient_id), "location_id": str(qc.location_id)},
                        headers=desk,
                    )
                    assert answer.status_code == 201, answer.text
                    sent[answer.json()["token"]] = started
                    await asyncio.sleep(0.25)
                await asyncio.gather(*listeners)
                rss_streams = rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)
    latencies = [(arrived[token] - sent[token]) * 1000 for arrived in arrivals for token in sent]
    slowest = [max(arrived[token] for arrived in arrivals) - sent[token] for token in sent]
    return Result(
        database=database,
        clients=clients,
        check_ins=check_ins,
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        max_ms=max(latencies),
        slowest_client_p95_ms=percentile([s * 1000 for s in slowest], 0.95),
        rss_idle_mib=rss_idle,
        rss_streams_mib=rss_streams,
    )


class _Streams:
    """``clients`` display streams, all open before the first check-in."""

    def __init__(self, client: httpx.AsyncClient, secret: str, count: int) -> None:
        self._contexts = [open_stream(client, params={"display": secret}) for _ in range(count)]

    async def __aenter__(self) -> list[Stream]:
        return list(await asyncio.gather(*(c.__aenter__() for c in self._contexts)))

    async def __aexit__(self, *exc: object) -> None:
        for context in self._contexts:
            await context.__aexit__(None, None, None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--check-ins", type=int, default=40)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--time-limit", type=float, default=300)
    args = parser.parse_args()
    configure_field_encryption(FieldKeyring(FIELD_KEY))

    async def run_on(owner_url: str, app_url: str) -> Result:
        database = "sqlite" if owner_url.startswith("sqlite") else "postgresql"
        return await _measure(
            owner_url, app_url, database=database, clients=args.clients, check_ins=args.check_ins
        )

    results = await on_each(
        args.database, run_on, name="live", keep=False, time_limit=args.time_limit
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d}")
    print(
        f"{'database':<11} {'clients':>7} {'check-ins':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'max ms':>7} {'all-clients p95 ms':>18} {'RSS idle MiB':>12} {'RSS streams MiB':>15}"
    )
    for r in results:
        print(
            f"{r.database:<11} {r.clients:>7} {r.check_ins:>9} {r.p50_ms:>7.1f} {r.p95_ms:>7.1f} "
            f"{r.max_ms:>7.1f} {r.slowest_client_p95_ms:>18.1f} {r.rss_idle_mib:>12.1f} "
            f"{r.rss_streams_mib:>15.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
