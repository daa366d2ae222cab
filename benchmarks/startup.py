"""Cold start and idle memory of `clinicdesk serve` on the embedded SQLite default.

Measures, over several runs:
* cold start: a new, empty data directory (keys generated, database created and
  migrated) until the first 200 from /health/ready; the wall time, and the CPU time the
  server's processes had used by then (less disturbed by other work on a shared machine);
* the code lists: since 2026-12-05 a cold start answers first and fills the ICD-10-CM and
  drug lists in a child process (``clinicdesk db load-reference-data``); the seconds from
  start until that child ends (= the cold start, for versions that filled them while
  migrating). Idle memory is measured after it ended;
* warm start: the same data directory again (nothing to migrate);
* idle memory of every process of the server, 3 s after it became ready: RSS, PSS
  (shared pages divided among the processes that share them) and USS (pages only this
  process has: what ending it would free), from /proc/PID/smaps_rollup. With
  ``--workers 1`` the CLI's own process serves; with more, a supervisor and its workers.

Python's bytecode cache is kept in a directory of this run (PYTHONPYCACHEPREFIX), filled by
an untimed first start, so the figures are those of an installation that has run once
(Python writes the cache on the first start). ``--no-bytecode-cache`` measures without one,
as on a read-only installation that was never byte-compiled (the standard library too).

``--python`` (repeatable) names the interpreter of another checkout's environment, e.g.
``--python ../before/.venv/bin/python --python .venv/bin/python``: the runs alternate
between them, so both see the same load on a shared machine.

Run: uv run python benchmarks/startup.py [--runs 5] [--workers 2]
Bounded: every server is stopped after its measurement; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOADER = b"load-reference-data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Memory:
    role: str
    rss: float
    pss: float
    uss: float


@dataclass
class Results:
    cold_lists: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    cold_cpu: list[float] = field(default_factory=list)
    warm_cpu: list[float] = field(default_factory=list)
    # "cold" / "warm" -> role -> one entry per process per start
    memory: dict[str, dict[str, list[Memory]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server and its processes so far, including
    those that already ended."""
    total = 0
    for member in [pid, *descendants(pid)]:
        fields = _stat_fields(member)
        # utime, stime, cutime, cstime (fields 14-17 of stat; the name is cut off here)
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def _smaps_rollup_mib(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0]) / 1024
    return values


def memory_of_tree(pid: int) -> list[Memory]:
    """The server process and every process under it."""
    others = descendants(pid)
    tree = []
    for member in [pid, *others]:
        cmdline = Path(f"/proc/{member}/cmdline").read_bytes()
        if member == pid:
            role = "supervisor" if others else "server"
        elif b"resource_tracker" in cmdline:
            role = "resource tracker"
        elif LOADER in cmdline:
            role = "code-list loader"
        else:
            role = "worker"
        try:
            m = _smaps_rollup_mib(member)
        except ProcessLookupError:  # ended, not yet reaped
            continue
        uss = m["Private_Clean"] + m["Private_Dirty"]
        tree.append(Memory(role=role, rss=m["Rss"], pss=m["Pss"], uss=uss))
    return tree


def _loading(pid: int) -> bool:
    for member in descendants(pid):
        try:
            if LOADER in Path(f"/proc/{member}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def start_once(
    python: str, data_dir: Path, *, workers: int, env: dict[str, str]
) -> tuple[float, float, float, list[Memory]]:
    """Seconds from process start to the first 200 on /health/ready, the CPU seconds used
    by then, seconds until the code lists were filled, and idle memory."""
    port = free_port()
    env = {
        **env,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_PORT": str(port),
        "CLINICDESK_WORKERS": str(workers),
        "CLINICDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("CLINICDESK_DATABASE_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [python, "-m", "clinicdesk", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree: list[int] = []
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
        cpu = cpu_seconds(process.pid)
        lists_deadline = time.perf_counter() + 180
        while _loading(process.pid) and time.perf_counter() < lists_deadline:
            time.sleep(0.05)
        lists = time.perf_counter() - started
        time.sleep(3)
        tree = descendants(process.pid)
        return ready, cpu, lists, memory_of_tree(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        stop_leftovers(tree)


def stop_leftovers(pids: list[int]) -> None:
    """No process of the server may outlive it by more than a moment: report and kill."""
    deadline = time.monotonic() + 5
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
        print(f"warning: process {pid} outlived the server by 5 s: {cmdline.decode()[:200]}")


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    return (
        f"median {statistics.median(values):.{digits}f}{unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f})"
    )


def report(python: str, results: Results) -> None:
    print(f"== {python}")
    print(
        f"cold start to first 200 on /health/ready: {spread(results.cold, ' s', 2)}; "
        f"CPU by then {spread(results.cold_cpu, ' s', 2)}"
    )
    print(f"cold start until the code lists are filled: {spread(results.cold_lists, ' s', 2)}")
    print(
        f"warm start to first 200 on /health/ready: {spread(results.warm, ' s', 2)}; "
        f"CPU by then {spread(results.warm_cpu, ' s', 2)}"
    )
    for start, roles in results.memory.items():
        print(f"idle memory 3 s after a {start} start, MiB, per process (all: their sum):")
        for role, members in roles.items():
            print(
                f"  {role:<16} RSS {spread([m.rss for m in members], '')}; "
                f"PSS {spread([m.pss for m in members], '')}; "
                f"USS {spread([m.uss for m in members], '')}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-bytecode-cache", action="store_true")
    parser.add_argument("--python", action="append", help="default: this interpreter")
    args = parser.parse_args()
    pythons: list[str] = args.python or [sys.executable]

    caches = {p: Path(tempfile.mkdtemp(prefix="clinicdesk-bench-pycache-")) for p in pythons}
    results = {p: Results() for p in pythons}
    load: list[float] = []
    try:
        runs = [False] * (0 if args.no_bytecode_cache else 1) + [True] * args.runs
        for measured in runs:
            for python in pythons:
                env = {**os.environ, "PYTHONPYCACHEPREFIX": str(caches[python])}
                if args.no_bytecode_cache:
                    env["PYTHONDONTWRITEBYTECODE"] = "1"
                else:
                    env.pop("PYTHONDONTWRITEBYTECODE", None)
                data_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-bench-"))
                shutil.rmtree(data_dir)
                result = results[python]
                try:
                    for start, times, cpus in (
                        ("cold", result.cold, result.cold_cpu),
                        ("warm", result.warm, result.warm_cpu),
                    ):
                        load.append(os.getloadavg()[0])
                        seconds, cpu, lists, tree = start_once(
                            python, data_dir, workers=args.workers, env=env
                        )
                        if not measured:
                            continue
                        if start == "cold":
                            result.cold_lists.append(lists)
                        times.append(seconds)
                        cpus.append(cpu)
                        for member in tree:
                            result.memory[start][member.role].append(member)
                        result.memory[start]["all"].append(
                            Memory(
                                "all",
                                rss=sum(m.rss for m in tree),
                                pss=sum(m.pss for m in tree),
                                uss=sum(m.uss for m in tree),
                            )
                        )
                finally:
                    shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        for cache in caches.values():
            shutil.rmtree(cache, ignore_errors=True)

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; 1-minute load average during the runs "
        f"{spread(load, '', 2)}"
    )
    print(
        f"runs: {args.runs}, workers: {args.workers}, bytecode cache: "
        f"{'none' if args.no_bytecode_cache else 'warm'}"
    )
    for python in pythons:
        report(python, results[python])


if __name__ == "__main__":
    main()
