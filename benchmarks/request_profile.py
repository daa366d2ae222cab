"""Where a request's time goes: a sampling profile of a real `clinicdesk serve` under load.

Starts ``python -m clinicdesk serve`` from a source tree (``--src``: its ``src`` goes first
on PYTHONPATH, so two checkouts are measured with the same interpreter and packages) on
SQLite in a fresh temporary data directory, one worker, 127.0.0.1 and a free port. An
organization and a doctor are made with the CLI, the doctor signs in through the API
(password grant) and registers ``--patients`` patients through it. Then an asyncio httpx
client keeps ``--concurrency`` requests in flight -- ``read``: ``GET
/api/v1/patients/{id}`` of a random patient; ``search``: ``GET /api/v1/patients?q=`` with
the first three letters of a registered family name -- and, after a warm-up, two py-spy
samplers (``record --nonblocking --idle --threads --rate 250``) watch the server for
``--seconds``: one takes every thread at every tick ("wall"), the other only the thread
holding the GIL (``--gil``).

A sample goes to the category of its innermost (leaf-most) frame that belongs to one: the
database driver and its thread bridge, SQLAlchemy, authentication, audit, middleware,
validation/serialization, logging, the HTTP server, FastAPI/Starlette routing, other
ClinicDesk code, else "other". The frames of the process's start, under ``asyncio.run``,
are not looked at (they are under every task). A thread waiting (the event loop in epoll,
an aiosqlite or pool thread at its queue) is idle. Reported per category:

* its share of the busy (not idle) wall samples of all threads: where the threads are,
  waiting for SQLite's lock, the disk or the GIL included;
* CPU milliseconds per request: each thread's CPU time in the window (/proc) shared among
  categories by that thread's GIL samples -- a thread waiting for the GIL, or preempted
  on a crowded machine, is busy in the wall samples but uses no CPU -- or, for a thread
  never seen holding the GIL, by its busy wall samples; divided by the requests finished
  in the window.

SQL statements per request are counted without logging anything: a ``sitecustomize`` module
on the server's PYTHONPATH (in the temporary directory) adds counting listeners to
SQLAlchemy's engine and pool events and writes the counts to a file on SIGUSR1, read before
and after the sampled window (``--no-statement-count`` leaves it out).

Rate limits are raised for the run (``CLINICDESK_RATE_LIMIT_*``), so the throttle is still
passed through on every request but never answers 429. Logging stays at the default (INFO,
JSON) into a file of the run (``--keep-log`` copies it).

Run (as root: py-spy reads the server's memory):
  uv run python benchmarks/request_profile.py --src ../wt-base --json before.json
  uv run python benchmarks/request_profile.py --src . --scenario both --json after.json
  uv run python benchmarks/request_profile.py --compare before.json after.json
Bounded: the server and py-spy are stopped and the temporary directory removed at the end,
also on failure; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from stack_profile import breakdown, parse_raw

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GIVEN = ["Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
FAMILY = [
    "Alvarez", "Becker", "Carter", "Dubois", "Evans", "Fischer", "Garcia", "Hansen",
    "Ibarra", "Jensen", "Keller", "Lopez", "Moreau", "Nguyen", "Olsen", "Patel",
    "Quinn", "Rossi", "Schmidt", "Tran", "Urbano", "Vogel", "Walker", "Young",
]  # fmt: skip

COUNTER_HOOK = '''"""Written by benchmarks/request_profile.py: counts SQL statements, transaction
ends and pool checkouts of this process (numbers only), written to a file on SIGUSR1."""
import json, os, re, signal
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_path = os.environ["REQUEST_PROFILE_COUNTS"]
_counts = {
    "seq": 0, "statements": 0, "commits": 0, "rollbacks": 0, "checkouts": 0, "aiosqlite calls": 0
}


def _counter(name):
    def count(*_args, **_kwargs):
        _counts[name] += 1
    return count


_TABLE = re.compile(r'\\b(?:FROM|INTO|UPDATE)\\s+"?(\\w+)', re.IGNORECASE)


def _statement(conn, cursor, statement, *_args):
    _counts["statements"] += 1
    # Its first word and first table only ("sql SELECT users"): never a value.
    words = ["sql", (statement.split(None, 1) or ["?"])[0].upper()[:16]]
    table = _TABLE.search(statement)
    if table:
        words.append(table.group(1))
    kind = " ".join(words)
    _counts[kind] = _counts.get(kind, 0) + 1


event.listen(Engine, "before_cursor_execute", _statement)

try:  # every call aiosqlite hands to its connection thread: a round trip there and back
    import aiosqlite.core as _aiosqlite

    _hand_over = _aiosqlite.Connection._execute

    async def _execute(self, fn, *args, **kwargs):
        _counts["aiosqlite calls"] += 1
        return await _hand_over(self, fn, *args, **kwargs)

    _aiosqlite.Connection._execute = _execute
except ImportError:
    pass
event.listen(Engine, "commit", _counter("commits"))
event.listen(Engine, "rollback", _counter("rollbacks"))
event.listen(Pool, "checkout", _counter("checkouts"))


def _dump(*_args):
    _counts["seq"] += 1
    with open(_path + ".tmp", "w") as out:
        json.dump(_counts, out)
    os.replace(_path + ".tmp", _path)


signal.signal(signal.SIGUSR1, _dump)
_dump()
'''


# -- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(stat: Path, *, user: bool = True) -> float:
    """utime + stime of a process or thread (only stime: ``user=False``); 0 if it ended."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) * user + int(fields[12])) / CLOCK_TICKS


def preemptions(pid: int) -> int:
    """How often the kernel took the CPU from the event loop's thread while it could run."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy and in all (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / CLOCK_TICKS, sum(fields) / CLOCK_TICKS


def own_cpu() -> float:
    """CPU seconds of this client and its ended children (py-spy, once waited for)."""
    mine, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def threads_cpu(pid: int) -> dict[int, float]:
    return {
        int(task.name): cpu_seconds(task / "stat") for task in Path(f"/proc/{pid}/task").iterdir()
    }


@dataclass
class Server:
    src: Path
    work: Path
    count_statements: bool
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    base: str = ""

    def start(self) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLINICDESK_")}
        self.env = {
            **env,
            "PYTHONPATH": str(self.src / "src"),
            "PYTHONDONTWRITEBYTECODE": "1",  # leave the measured trees as they are
            "CLINICDESK_DATA_DIR": str(self.work / "data"),
            "CLINICDESK_HOST": "127.0.0.1",
            "CLINICDESK_PORT": str(port),
            "CLINICDESK_WORKERS": "1",
            "CLINICDESK_RATE_LIMIT_GENERAL": "1000000/minute",
            "CLINICDESK_RATE_LIMIT_SEARCH": "1000000/minute",
        }
        where = subprocess.run(
            [sys.executable, "-c", "import clinicdesk; print(clinicdesk.__file__)"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to((self.src / "src").resolve()):
            raise SystemExit(f"clinicdesk imports from {where}, not from {self.src}/src")
        assets = browser_assets(self.src)
        if assets is not None:
            self.env["CLINICDESK_ASSETS_DIR"] = str(assets)
        server_env = dict(self.env)
        if self.count_statements:
            hook = self.work / "hook"
            hook.mkdir()
            (hook / "sitecustomize.py").write_text(COUNTER_HOOK)
            server_env["PYTHONPATH"] = f"{hook}{os.pathsep}{self.env['PYTHONPATH']}"
            server_env["REQUEST_PROFILE_COUNTS"] = str(self.work / "counts.json")
        with (self.work / "server.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clinicdesk", "serve"],
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"server did not become ready; log:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        path = self.work / "server.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""
        )

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "clinicdesk", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode:
            raise RuntimeError(f"clinicdesk {args[:2]} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def counts(self) -> dict[str, int] | None:
        """The statement counters now (SIGUSR1, then wait for the file to change)."""
        if not self.count_statements or self.process is None:
            return None
        path = self.work / "counts.json"
        before = json.loads(path.read_text())["seq"]
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            values: dict[str, int] = json.loads(path.read_text())
            if values["seq"] > before:
                return values
            time.sleep(0.01)
        raise RuntimeError("the server did not write its statement counts")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def set_up(server: Server, patients: int) -> tuple[str, list[str], list[str]]:
    """The doctor's bearer token, the patients' ids and search prefixes."""
    password = secrets.token_urlsafe(18)
    output = server.cli(
        "org", "create", "Profile Clinic", "--admin-email", "admin@profile.example",
        "--admin-password", password,
    )  # fmt: skip
    found = re.search(r"\(([0-9a-f-]{36})\)", output)
    if found is None:
        raise RuntimeError(f"no organization id in: {output}")
    server.cli(
        "user", "create", "--organization", found[1], "--email", "doctor@profile.example",
        "--name", "Dr Profile", "--role", "doctor", "--password", password,
    )  # fmt: skip
    response = httpx.post(
        f"{server.base}/api/v1/auth/token",
        data={"username": "doctor@profile.example", "password": password},
        timeout=30,
    )
    response.raise_for_status()
    token = str(response.json()["access_token"])
    chosen = random.Random(20261204)
    bodies = [
        {
            "given_name": chosen.choice(GIVEN),
            "family_name": chosen.choice(FAMILY),
            "birth_date": f"{chosen.randint(1940, 2020)}-{chosen.randint(1, 12):02d}-"
            f"{chosen.randint(1, 28):02d}",
            "sex_at_birth": chosen.choice(["female", "male"]),
            "phone": f"(617) 201-{n:04d}",
        }
        for n in range(patients)
    ]
    ids = asyncio.run(register(server.base, token, bodies))
    return token, ids, sorted({str(b["family_name"])[:3] for b in bodies})


async def register(base: str, token: str, bodies: list[dict[str, str]]) -> list[str]:
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for body in bodies:
            response = await client.post("/api/v1/patients", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"registration: {response.status_code} {response.text[:300]}")
            ids.append(str(response.json()["id"]))
    return ids


# -- the load and the profile ----------------------------------------------------------


@dataclass
class Window:
    pid: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    cpu_seconds: float  # the whole process, threads that ended included
    thread_cpu: dict[int, float]  # per thread id
    loop_kernel_cpu: float  # the event loop's system time
    machine_busy: float  # CPU seconds the machine was busy in the window, all processes
    machine_total: float  # CPU seconds the machine had in the window (cores x seconds)
    client_cpu: float  # this load generator's and py-spy's
    preempted: int  # the event loop's involuntary context switches
    counts: dict[str, int] | None


async def load_and_sample(
    server: Server,
    *,
    token: str,
    paths: list[str],
    concurrency: int,
    warmup: float,
    seconds: float,
    rate: int,
    wall: Path,
    gil: Path,
) -> Window:
    """Load the server; meanwhile two samplers watch it for ``seconds``: every thread at
    every tick (``wall``), and only the thread that holds the GIL (``gil``)."""
    assert server.process is not None
    pid = server.process.pid
    done: list[tuple[float, float, int]] = []  # finished at, latency, status
    stop = asyncio.Event()
    chosen = random.Random(7)

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get(chosen.choice(paths))
            finished = time.perf_counter()
            done.append((finished, finished - started, response.status_code))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=server.base, headers=headers, limits=limits, timeout=60
    ) as client:
        workers = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        spies: list[asyncio.subprocess.Process] = []
        try:
            await asyncio.sleep(warmup)
            counts_before = await asyncio.to_thread(server.counts)
            stat = Path(f"/proc/{pid}/stat")
            loop_stat = Path(f"/proc/{pid}/task/{pid}/stat")
            threads_before, cpu_before = threads_cpu(pid), cpu_seconds(stat)
            kernel_before = cpu_seconds(loop_stat, user=False)
            (busy_before, all_before), client_before = machine_cpu(), own_cpu()
            preempted_before = preemptions(pid)
            started = time.perf_counter()
            for raw, only_gil in ((wall, []), (gil, ["--gil"])):
                spies.append(
                    await asyncio.create_subprocess_exec(
                        *[py_spy(), "record", "--pid", str(pid)],
                        *["--rate", str(rate), "--duration", str(round(seconds))],
                        *["--format", "raw", "--output", str(raw)],
                        *["--nonblocking", "--idle", "--threads", "--full-filenames", *only_gil],
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                )
            outputs = await asyncio.wait_for(
                asyncio.gather(*(spy.communicate() for spy in spies)), timeout=seconds + 60
            )
            ended = time.perf_counter()
            threads_after, cpu_after = threads_cpu(pid), cpu_seconds(stat)
            kernel_after = cpu_seconds(loop_stat, user=False)
            (busy_after, all_after), client_after = machine_cpu(), own_cpu()
            preempted_after = preemptions(pid)
            counts_after = await asyncio.to_thread(server.counts)
            for spy, (output, _) in zip(spies, outputs, strict=True):
                if spy.returncode:
                    raise RuntimeError(f"py-spy failed: {output.decode(errors='replace')}")
        finally:
            stop.set()
            for spy in spies:
                if spy.returncode is None:
                    spy.kill()
                    await spy.wait()
            await asyncio.gather(*workers, return_exceptions=True)
    inside = [(latency, status) for at, latency, status in done if started <= at <= ended]
    counts = None
    if counts_before is not None and counts_after is not None:
        counts = {k: counts_after[k] - counts_before.get(k, 0) for k in counts_after if k != "seq"}
    return Window(
        pid=pid,
        seconds=ended - started,
        latencies=[latency for latency, _ in inside],
        statuses=Counter(status for _, status in inside),
        cpu_seconds=cpu_after - cpu_before,
        loop_kernel_cpu=kernel_after - kernel_before,
        machine_busy=busy_after - busy_before,
        machine_total=all_after - all_before,
        client_cpu=client_after - client_before,
        preempted=preempted_after - preempted_before,
        thread_cpu={
            tid: used - threads_before.get(tid, 0.0) for tid, used in threads_after.items()
        },
        counts=counts,
    )


def py_spy() -> str:
    """The py-spy of this environment (a dev dependency), else the one on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def browser_assets(src: Path) -> Path | None:
    """The npm packages the server mounts: the tree's own, else those of the repository's
    main checkout (a worktree made for a measurement usually has none)."""
    git = shutil.which("git") or "git"
    common = subprocess.run(
        [git, "-C", str(src), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    candidates = [src / "node_modules", Path(__file__).resolve().parents[1] / "node_modules"]
    if common:
        candidates.append(Path(common).parent / "node_modules")
    return next((c for c in candidates if (c / "htmx.org").is_dir()), None)


def tree_revision(src: Path) -> str:
    git = shutil.which("git") or "git"
    done = subprocess.run(
        [git, "-C", str(src), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return done.stdout.strip()[:100] or "unknown"


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="clinicdesk-request-profile-"))
    server = Server(src=args.src, work=work, count_statements=args.statement_count)
    results = []
    try:
        server.start()
        token, ids, prefixes = set_up(server, args.patients)
        scenarios = ["read", "search"] if args.scenario == "both" else [args.scenario]
        for scenario in scenarios:
            if scenario == "read":
                paths = [f"/api/v1/patients/{i}" for i in ids]
            else:
                paths = [f"/api/v1/patients?q={p}" for p in prefixes]
            wall, gil = work / f"{scenario}-wall.txt", work / f"{scenario}-gil.txt"
            load = os.getloadavg()[0]
            window = asyncio.run(
                load_and_sample(
                    server,
                    token=token,
                    paths=paths,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    seconds=args.seconds,
                    rate=args.rate,
                    wall=wall,
                    gil=gil,
                )
            )
            if args.keep_raw:
                args.keep_raw.mkdir(parents=True, exist_ok=True)
                for raw in (wall, gil):
                    shutil.copy(raw, args.keep_raw / f"{args.src.resolve().name}-{raw.name}")
            requests = len(window.latencies)
            rps = requests / window.seconds
            result = {
                "src": str(args.src.resolve()),
                "revision": tree_revision(args.src),
                "scenario": scenario,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "load_average_before": load,
                "load_average_after": os.getloadavg()[0],
                "concurrency": args.concurrency,
                "patients": len(ids),
                "seconds": window.seconds,
                "requests": requests,
                "statuses": dict(window.statuses),
                "requests_per_second": rps,
                "p50_ms": percentile(window.latencies, 0.5) * 1000,
                "p95_ms": percentile(window.latencies, 0.95) * 1000,
                "server_cpu_ms_per_request": window.cpu_seconds * 1000 / requests,
                "event_loop_kernel_ms_per_request": window.loop_kernel_cpu * 1000 / requests,
                "event_loop_preemptions_per_request": window.preempted / requests,
                # Where the machine's CPU went in the window, as shares of all it had.
                "machine_share": {
                    "server": window.cpu_seconds / window.machine_total,
                    "client and py-spy": window.client_cpu / window.machine_total,
                    "other processes": (
                        window.machine_busy - window.cpu_seconds - window.client_cpu
                    )
                    / window.machine_total,
                    "idle": 1 - window.machine_busy / window.machine_total,
                },
                "db_calls_per_request": (
                    {k: v / requests for k, v in window.counts.items()} if window.counts else None
                ),
                "profile": breakdown(
                    parse_raw(wall, window.pid),
                    parse_raw(gil, window.pid),
                    window.thread_cpu,
                    process_cpu=window.cpu_seconds,
                    requests=requests,
                    seconds=window.seconds,
                ),
            }
            results.append(result)
            print_result(result)
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        if args.keep_log and (work / "server.log").exists():
            shutil.copy(work / "server.log", args.keep_log)
        shutil.rmtree(work, ignore_errors=True)
    return results


# -- reports ---------------------------------------------------------------------------


def print_result(r: dict[str, Any]) -> None:
    profile = r["profile"]
    print(f"== {r['scenario']}: {r['src']} ({r['revision']})")
    print(
        f"{r['requests']} requests in {r['seconds']:.1f} s at concurrency {r['concurrency']}: "
        f"{r['requests_per_second']:.1f}/s, p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms; "
        f"statuses {r['statuses']}; load average {r['load_average_before']:.2f} -> "
        f"{r['load_average_after']:.2f}"
    )
    print(
        f"server CPU (/proc) {r['server_cpu_ms_per_request']:.2f} ms/request; event loop idle "
        f"{profile['event_loop_idle_share']:.0%} of {profile['ticks']} ticks; GIL held "
        f"{profile['gil_held_share']:.0%}"
    )
    shares = ", ".join(f"{k} {v:.0%}" for k, v in r["machine_share"].items())
    print(f"the machine's CPU in the window: {shares}")
    if r["db_calls_per_request"]:
        calls = ", ".join(f"{k} {v:.2f}" for k, v in r["db_calls_per_request"].items() if v >= 0.05)
        print(f"per request: {calls}")
    print("per thread kind, ms/request: CPU (/proc) and busy (sampled; busy - CPU = waiting")
    print("for the GIL, the disk or a lock):")
    for kind, t in profile["threads"].items():
        cpu, busy = t["cpu_ms_per_request"], t["busy_ms_per_request"]
        print(f"    {kind:<16} CPU {cpu:6.2f}  busy {busy:6.2f}")
    print(
        f"    (event loop: in the kernel {r['event_loop_kernel_ms_per_request']:.2f}; preempted "
        f"{r['event_loop_preemptions_per_request']:.1f} times; seen at the hand-off to "
        f"aiosqlite, holding the GIL, {profile['hand_off_ms_per_request']:.2f})"
    )
    print(f"{'category':<46} {'CPU ms/req':>10} {'of busy samples':>15}")
    for name, c in profile["categories"].items():
        print(f"{name:<46} {c['cpu_ms_per_request']:>10.2f} {c['share_of_busy_samples']:>15.1%}")
        for where, ms in c["top_origins"][:3]:
            if ms >= 0.05:
                print(f"    {ms:6.2f}  from {where}")
    unattributed = profile["unattributed_cpu_ms_per_request"]
    print(f"unattributed (threads that ended, never sampled busy): {unattributed:.2f}")
    print("event loop CPU by origin (innermost ClinicDesk frame), ms/request:")
    for where, ms in profile["event_loop_cpu_by_origin"]:
        print(f"    {ms:6.2f}  {where}")


def statement_kinds(r: dict[str, Any]) -> list[tuple[str, float]]:
    """Statements per request by their first word (SELECT, UPDATE ...), most first."""
    kinds: dict[str, float] = defaultdict(float)
    for key, value in (r["db_calls_per_request"] or {}).items():
        if key.startswith("sql "):
            kinds[key.split()[1]] += value
    return sorted(kinds.items(), key=lambda item: -item[1])


def median_of(results: list[Any]) -> Any:
    """Figure by figure, the median of several runs' results (the first's for text)."""
    first = results[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in results if k in r]) for k in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return statistics.median(results)
    return first


def compare(paths: list[Path]) -> None:
    """A Markdown table, one row per figure and one column per tree and scenario (in the
    order given); several runs of the same tree and scenario give their medians."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in paths:
        for r in json.loads(path.read_text()):
            groups.setdefault((Path(r["src"]).name, r["scenario"]), []).append(r)
    results = [median_of(runs) for runs in groups.values()]
    head = [
        f"{name} {scenario}" + (f" (median of {len(runs)})" if len(runs) > 1 else "")
        for (name, scenario), runs in groups.items()
    ]
    print("| | " + " | ".join(head) + " |")
    print("|---" * (len(results) + 1) + "|")
    threads = ("event loop", "SQLite threads")
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("requests/s", lambda r: f"{r['requests_per_second']:.0f}"),
        ("p50 / p95 ms", lambda r: f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f}"),
        ("server CPU ms/request (/proc)", lambda r: f"{r['server_cpu_ms_per_request']:.2f}"),
        (
            "SQL statements / commits / aiosqlite calls per request",
            lambda r: (
                " / ".join(
                    f"{r['db_calls_per_request'].get(k, 0):.1f}"
                    for k in ("statements", "commits", "aiosqlite calls")
                )
                if r["db_calls_per_request"]
                else "-"
            ),
        ),
        (
            "statements by kind",
            lambda r: ", ".join(f"{k} {v:.1f}" for k, v in statement_kinds(r) if v >= 0.05) or "-",
        ),
        ("event loop idle", lambda r: f"{r['profile']['event_loop_idle_share']:.0%}"),
        (
            "event loop at the hand-off to aiosqlite, ms (preempted per request)",
            lambda r: (
                f"{r['profile']['hand_off_ms_per_request']:.1f} "
                f"({r['event_loop_preemptions_per_request']:.1f})"
                if "event_loop_preemptions_per_request" in r
                else "-"
            ),
        ),
        (
            "machine CPU used by other processes",
            lambda r: (
                f"{r['machine_share']['other processes']:.0%}" if "machine_share" in r else "-"
            ),
        ),
        *[
            (
                f"{kind}: CPU / busy ms per request",
                lambda r, kind=kind: (
                    f"{r['profile']['threads'][kind]['cpu_ms_per_request']:.2f} / "
                    f"{r['profile']['threads'][kind]['busy_ms_per_request']:.2f}"
                    if kind in r["profile"]["threads"]
                    else "-"
                ),
            )
            for kind in threads
        ],
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    for name in results[0]["profile"]["categories"]:
        cells = [r["profile"]["categories"][name] for r in results]
        print(
            f"| {name} | "
            + " | ".join(
                f"{c['cpu_ms_per_request']:.2f} ({c['share_of_busy_samples']:.0%})" for c in cells
            )
            + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", type=Path, default=Path(), help="source tree (default: .)")
    parser.add_argument("--scenario", choices=["read", "search", "both"], default="read")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep-raw", type=Path, help="copy py-spy's raw stacks to this dir")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log to this file")
    parser.add_argument("--no-statement-count", dest="statement_count", action="store_false")
    parser.add_argument("--compare", type=Path, nargs="+", help="JSON files: print a table")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare)
        return
    if os.geteuid() != 0:
        raise SystemExit("py-spy needs root to read another process's memory")
    # Stopped with SIGTERM (or SIGINT, which background jobs of a script ignore): the
    # server, py-spy and the temporary directory still go, through the finally blocks.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda signum, _frame: sys.exit(128 + signum))
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
