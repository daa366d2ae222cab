"""Cold start and idle memory of `clinicdesk serve` on the embedded SQLite default.

Measures, over several runs:
* cold start: a new, empty data directory (keys generated, database created and
  migrated) until the first 200 from /health/ready;
* warm start: the same data directory again (nothing to migrate);
* idle RSS of the server process, 3 s after it became ready (it serves one process:
  workers=1 runs in the same process as the CLI).

Run: uv run python benchmarks/startup.py [--runs 5]
Bounded: every server is stopped after its measurement; nothing listens beyond 127.0.0.1.
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_once(data_dir: Path) -> tuple[float, float]:
    """Seconds from process start to the first 200 on /health/ready, and idle RSS (MiB)."""
    port = free_port()
    env = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("CLINICDESK_DATABASE_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "clinicdesk", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline or process.poll() is not None:
                raise RuntimeError("server did not become ready")
            time.sleep(0.01)
        ready = time.perf_counter() - started
        time.sleep(3)
        return ready, rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    cold, warm, rss = [], [], []
    for _ in range(args.runs):
        data_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-bench-"))
        shutil.rmtree(data_dir)
        try:
            seconds, mib = start_once(data_dir)
            cold.append(seconds)
            rss.append(mib)
            seconds, mib = start_once(data_dir)
            warm.append(seconds)
            rss.append(mib)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"runs: {args.runs}")
    print(
        f"cold start to first 200 on /health/ready: median {statistics.median(cold):.2f} s "
        f"(min {min(cold):.2f}, max {max(cold):.2f})"
    )
    print(
        f"warm start to first 200 on /health/ready: median {statistics.median(warm):.2f} s "
        f"(min {min(warm):.2f}, max {max(warm):.2f})"
    )
    print(
        f"idle RSS after ready: median {statistics.median(rss):.1f} MiB "
        f"(min {min(rss):.1f}, max {max(rss):.1f})"
    )


if __name__ == "__main__":
    main()
