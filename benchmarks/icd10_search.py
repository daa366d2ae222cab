"""ICD-10-CM search: latency by kind of query, and the memory of `clinicdesk serve`.

Two parts (both by default):

* ``--part sql``: the search and look-up functions straight on the ``icd10_codes`` table,
  on a new SQLite file and on the test suite's throwaway PostgreSQL cluster (both migrated
  here), ``--runs`` times per query; p50/p95 per kind of query.
* ``--part serve``: for each ``--python`` (a checkout's interpreter, e.g. main's before
  and this branch's after), a fresh SQLite data directory is migrated (``db upgrade``, its
  own process), an organization and a doctor are made with the CLI, then ``clinicdesk
  serve`` (one process) starts. Memory of the serving process from /proc: RSS when idle
  (3 s after ready and signed in), RSS after the searches, and its peak (VmHWM). The
  searches go through ``GET /api/v1/icd10`` (every query below, ``--runs`` times), so the
  HTTP latency p50/p95 per kind is reported too; the first request of each checkout is
  reported apart (it built the in-memory index before this branch).

Run: uv run python benchmarks/icd10_search.py [--part sql|serve|both] [--runs 20]
         [--python ../main/.venv/bin/python --python .venv/bin/python]
Requests go to 127.0.0.1 only; every server and cluster started here is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import on_postgresql, on_sqlite, percentile

from clinicdesk.core import migrations
from clinicdesk.core.db import create_database
from clinicdesk.core.sqlite_driver import sqlite_version

PASSWORD = "benchmark-password-2026"
QUERIES: dict[str, list[str]] = {
    "code, exact": ["E11.9", "i10", "S72.001A", "J45.909"],
    "code prefix": ["e11", "S72", "M54", "Z00"],
    "one letter": ["c", "d", "s"],
    "one word": ["asthma", "hypertension", "fracture", "covid"],
    "word prefix": ["diab", "hypert", "pneum", "migr"],
    "several words": ["diab typ 2", "fracture femur", "chronic kidney disease", "otitis media acu"],
    "common short word": ["of", "in", "pain"],
}


def _kinds(timings: dict[str, list[float]]) -> list[str]:
    lines = []
    for kind, values in timings.items():
        lines.append(
            f"| {kind} | {percentile(values, 0.5) * 1000:.2f} | "
            f"{percentile(values, 0.95) * 1000:.2f} | {len(values)} |"
        )
    return lines


# --- sql ------------------------------------------------------------------------------


async def _sql(owner_url: str, app_url: str, runs: int) -> dict[str, list[float]]:
    from clinicdesk.patients.service.icd10 import lookup, search

    owner = create_database(owner_url)
    started = time.perf_counter()
    await migrations.upgrade(owner, grant_to="clinicdesk_app" if owner_url != app_url else None)
    print(f"  migrated to head in {time.perf_counter() - started:.1f} s")
    await owner.dispose()
    db = create_database(app_url)
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        async with db.sessionmaker() as session:
            await search(session, "warm up the connection")
            for _ in range(runs):
                for kind, queries in QUERIES.items():
                    for query in queries:
                        began = time.perf_counter()
                        if kind == "code, exact":
                            assert await lookup(session, query) is not None
                        else:
                            assert await search(session, query, limit=20)
                        timings[kind].append(time.perf_counter() - began)
    finally:
        await db.dispose()
    return timings


def part_sql(runs: int) -> None:
    for name, run in (
        ("SQLite", lambda f: on_sqlite(f, name="icd10", keep=False)),
        ("PostgreSQL", on_postgresql),
    ):
        print(f"\n{name}: search()/lookup() on icd10_codes, {runs} runs per query")
        timings = asyncio.run(run(lambda owner, app: _sql(owner, app, runs)))
        print("| kind | p50 ms | p95 ms | n |\n|---|---|---|---|")
        print("\n".join(_kinds(timings)))


# --- serve ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM (peak RSS) of ``pid``, MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(rest.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _cli(python: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [python, "-m", "clinicdesk", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def serve_once(python: str, runs: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-icd10-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_WORKERS": "1",
        "CLINICDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("CLINICDESK_DATABASE_URL", None)
    started = time.perf_counter()
    _cli(python, env, "db", "upgrade", "--no-backup")
    upgrade_seconds = time.perf_counter() - started
    created = _cli(
        python,
        env,
        "org",
        "create",
        "Bench Clinic",
        "--admin-email",
        "a@bench.example",
        "--admin-password",
        PASSWORD,
    )
    org_id = created.split("(")[1].split(")")[0]
    _cli(
        python,
        env,
        "user",
        "create",
        "--organization",
        org_id,
        "--email",
        "d@bench.example",
        "--name",
        "Dr Bench",
        "--role",
        "doctor",
        "--password",
        PASSWORD,
    )
    server = subprocess.Popen(
        [python, "-m", "clinicdesk", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=60) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "d@bench.example", "password": PASSWORD}
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            time.sleep(3)
            idle_rss, idle_peak = _memory(server.pid)
            began = time.perf_counter()
            client.get("/api/v1/icd10", params={"q": "asthma"}).raise_for_status()
            first = time.perf_counter() - began
            timings: dict[str, list[float]] = defaultdict(list)
            for _ in range(runs):
                for kind, queries in QUERIES.items():
                    for query in queries:
                        began = time.perf_counter()
                        answer = client.get("/api/v1/icd10", params={"q": query})
                        timings[kind].append(time.perf_counter() - began)
                        answer.raise_for_status()
                        assert answer.json(), query
        after_rss, peak_rss = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n{python}: db upgrade from empty {upgrade_seconds:.1f} s")
    print(
        f"serving process RSS: idle {idle_rss:.1f} MiB (peak so far {idle_peak:.1f}), after the "
        f"searches {after_rss:.1f} MiB, peak {peak_rss:.1f} MiB; first search {first * 1000:.0f} ms"
    )
    print(f"GET /api/v1/icd10, {runs} runs per query")
    print("| kind | p50 ms | p95 ms | n |\n|---|---|---|---|")
    print("\n".join(_kinds(timings)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("sql", "serve", "both"), default="both")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", action="append", default=None)
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite_version()}"
    )
    if args.part in ("sql", "both"):
        part_sql(args.runs)
    if args.part in ("serve", "both"):
        for python in args.python or [sys.executable]:
            serve_once(python, args.runs)


if __name__ == "__main__":
    main()
