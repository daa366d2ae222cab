"""Sign-in latency with argon2id at ClinicDesk's parameters.

Starts `clinicdesk serve` on a fresh SQLite data directory, creates an organization and a
doctor through the CLI, then signs in N times in a row through the API
(POST /api/v1/auth/token) and reports p50/p95; also the bare argon2id hash and verify
times. Requests go to 127.0.0.1 only; the server is stopped at the end.

Run: uv run python benchmarks/login.py [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from clinicdesk.identity.passwords import HASHER

PASSWORD = "benchmark-password-2026"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "clinicdesk", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()

    timings = []
    for _ in range(10):
        started = time.perf_counter()
        hashed = HASHER.hash(PASSWORD)
        timings.append(time.perf_counter() - started)
    verify = []
    for _ in range(10):
        started = time.perf_counter()
        HASHER.verify(hashed, PASSWORD)
        verify.append(time.perf_counter() - started)

    data_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-login-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("CLINICDESK_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "clinicdesk", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        output = cli(
            env,
            "org",
            "create",
            "Bench Clinic",
            "--admin-email",
            "a@bench.example",
            "--admin-password",
            PASSWORD,
        )
        org_id = output.split("(")[1].split(")")[0]
        cli(
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
        latencies = []
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/auth/token",
                    data={"username": "d@bench.example", "password": PASSWORD},
                )
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"argon2id parameters: time_cost={HASHER.time_cost}, memory_cost={HASHER.memory_cost} KiB, "
        f"parallelism={HASHER.parallelism}"
    )
    print(
        f"argon2id hash: median {statistics.median(timings) * 1000:.1f} ms; "
        f"verify: median {statistics.median(verify) * 1000:.1f} ms"
    )
    print(
        f"sign-in (POST /api/v1/auth/token, {args.requests} sequential): "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
