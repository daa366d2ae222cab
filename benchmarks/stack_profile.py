"""py-spy's raw stacks of a ClinicDesk server, put in categories (for request_profile.py).

A sample goes to the category of its innermost (leaf-most) frame that belongs to one. The
frames of the process's start, under ``asyncio.run``, are not looked at: they are under
every task. A thread waiting for work (the event loop in epoll, an aiosqlite or pool thread
at its queue, a sleep) is idle.
"""

from __future__ import annotations

import linecache
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Frame:
    function: str
    path: str
    line: int

    @property
    def short(self) -> str:
        """The path from the package on (``sqlalchemy/orm/session.py``)."""
        for marker in ("/site-packages/", "/src/", "/lib/python3."):
            if marker in self.path:
                rest = self.path.split(marker, 1)[1]
                return rest.split("/", 1)[1] if marker == "/lib/python3." else rest
        return self.path

    def __str__(self) -> str:
        return f"{self.function} ({self.short})"


def _in(*parts: str) -> Callable[[Frame], bool]:
    return lambda frame: any(part in frame.path for part in parts)


def _clinicdesk(*modules: str) -> Callable[[Frame], bool]:
    return _in(*(f"/clinicdesk/{module}" for module in modules))


def _serializing(frame: Frame) -> bool:
    return (
        _in("/pydantic/", "/pydantic_core/", "/fastapi/encoders.py", "/json/", "/orjson")(frame)
        or (frame.path.endswith("/fastapi/routing.py") and "serialize" in frame.function)
        or frame.function.startswith("jsonable_encoder")
    )


# Order matters only for a frame that fits several (fastapi/routing.py's serialize_response
# is serialization, the rest of that file is routing).
CATEGORIES: list[tuple[str, Callable[[Frame], bool]]] = [
    (
        "database driver (aiosqlite, pysqlite3, asyncpg)",
        _in("/aiosqlite/", "/asyncpg/", "/pysqlite3/", "/clinicdesk/core/sqlite_driver.py"),
    ),
    ("SQLAlchemy engine/ORM", _in("/sqlalchemy/")),
    (
        "authentication",
        _clinicdesk("identity/auth.py", "identity/service/sessions.py", "core/tenancy.py"),
    ),
    ("audit", _clinicdesk("audit/")),
    (
        "middleware",
        lambda f: (
            _clinicdesk(
                "core/middleware.py",
                "core/throttle.py",
                "core/cache_control.py",
                "core/read_timeout.py",
                "core/observability.py",
            )(f)
            or _in("/starlette/middleware/")(f)
        ),
    ),
    ("validation/serialization", _serializing),
    ("logging", lambda f: _in("/structlog/")(f) or f.short.startswith("logging/")),
    ("HTTP server (uvicorn, httptools, h11)", _in("/uvicorn/", "/httptools/", "/h11/")),
    ("FastAPI/Starlette routing, dependencies", _in("/fastapi/", "/starlette/")),
    ("other ClinicDesk code (routes, services)", _in("/clinicdesk/")),
]
IDLE = "idle"
LOOP = "event loop's own C code (uvloop)"
OTHER = "other (asyncio, stdlib, other libraries)"


def _source(frame: Frame) -> str:
    return linecache.getline(frame.path, frame.line)


def is_idle(leaf: Frame) -> bool:
    """A thread waiting for work: the event loop in epoll (uvloop waits in C under
    ``asyncio.run``), a thread blocked on a queue, lock or sleep."""
    short = leaf.short
    if short.startswith(("selectors.py", "asyncio/runners.py", "uvloop/")):
        return True
    if short.startswith("asyncio/base_events.py") and "run_" in leaf.function:
        return True
    if short.startswith(("threading.py", "queue.py")) and leaf.function.endswith(
        ("wait", "get", "acquire", "join")
    ):
        return True
    text = _source(leaf)
    waiting = short.startswith(("concurrent/futures/thread.py", "aiosqlite/core.py"))
    return (waiting and ".get(" in text) or "time.sleep(" in text


def above_loop(frames: list[Frame]) -> list[Frame]:
    """The frames the event loop called (a task's step, a protocol callback): those of
    the process's start (``clinicdesk serve`` up to ``asyncio.run``) sit under every one
    of them and say nothing about the work."""
    for index in range(len(frames) - 1, -1, -1):
        if frames[index].short.startswith("asyncio/runners.py"):
            return frames[index + 1 :]
    return frames


def category_of(frames: list[Frame], *, holds_gil: bool = False) -> str:
    """The category of a sample. A thread that holds the GIL is never idle: when the
    event loop's stack ends at ``asyncio.run`` it runs uvloop's own C code (dispatching
    callbacks, socket reads and writes), and an aiosqlite thread at its queue has just
    been woken with work."""
    if not frames:
        return OTHER if holds_gil else IDLE
    if not holds_gil and is_idle(frames[-1]):
        return IDLE
    work = above_loop(frames)
    if not work:
        return LOOP
    for frame in reversed(work):
        for name, matches in CATEGORIES:
            if matches(frame):
                return name
    return OTHER


FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*):(?P<line>\d+)\)$")


@dataclass
class Sample:
    tid: int
    thread: str  # "event loop", "SQLite threads" or "other threads"
    frames: list[Frame]
    count: int


def parse_raw(path: Path, pid: int) -> list[Sample]:
    """py-spy's raw output with ``--threads``: ``thread (TID): NAME;frame;...;leaf COUNT``,
    TID the OS thread id (the main thread's is the process id). Without pausing the
    server, py-spy now and then reads a frame while it changes and writes garbage as its
    name (even a line break): such frames are dropped, the rest of the stack is kept."""
    records: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("thread (") or not records:
            records.append(line)
        else:
            records[-1] += line
    samples = []
    for record in records:
        stack, _, count = record.rpartition(" ")
        head, *parts = stack.split(";")
        if not count.isdigit() or not head.startswith("thread ("):
            continue
        frames = []
        for part in parts:
            match = FRAME.match(part)
            if match:
                frames.append(Frame(match["function"], match["path"], int(match["line"])))
        tid = int(head.split("(", 1)[1].split(")", 1)[0])
        if tid == pid:
            thread = "event loop"
        elif "_connection_worker_thread" in head or any("/aiosqlite/" in f.path for f in frames):
            thread = "SQLite threads"
        else:
            thread = "other threads"
        samples.append(Sample(tid, thread, frames, int(count)))
    return samples


def origin(frames: list[Frame]) -> str:
    """The innermost ClinicDesk frame; else, for the SQLAlchemy code a greenlet runs on the
    event loop's thread (its stack starts there: py-spy cannot see the coroutine that
    called it), the greenlet's first frame; else what the loop or the thread runs."""
    if not frames:
        return "(no stack read)"
    work = above_loop(frames)
    for frame in reversed(work):
        if "/clinicdesk/" in frame.path:
            return f"{frame.function} ({frame.short}:{frame.line})"
    if not work:
        return "(the event loop itself)"
    if work is not frames:
        return f"loop callback {work[0]}"
    if work[0].function == "Thread._bootstrap":
        return f"thread: {work[min(3, len(work) - 1)]}"
    return f"greenlet from {work[0]}"


def breakdown(
    wall: list[Sample],
    gil: list[Sample],
    cpu: dict[int, float],
    *,
    process_cpu: float,
    requests: int,
    seconds: float,
) -> dict[str, Any]:
    """Per category: its share of the busy samples of all threads (``wall``), and CPU ms
    per request: each thread's CPU time (from /proc) shared among categories by its
    samples holding the GIL (``gil``; a thread waiting for the GIL or preempted between
    two Python lines is busy in ``wall`` but uses no CPU), or by its busy samples when it
    ran without the GIL only (SQLite's C code in the connection threads)."""
    ticks = max(1, sum(s.count for s in wall if s.thread == "event loop"))
    per_request = 1000 / requests if requests else 0.0
    tick_ms = seconds / ticks * 1000 / requests if requests else 0.0
    kind_of = {sample.tid: sample.thread for sample in wall + gil}

    def busy(samples: list[Sample], holds_gil: bool) -> list[tuple[Sample, str]]:
        classified = [(s, category_of(s.frames, holds_gil=holds_gil)) for s in samples]
        return [(sample, category) for sample, category in classified if category != IDLE]

    wall_busy, gil_busy = busy(wall, holds_gil=False), busy(gil, holds_gil=True)
    samples_by_category: Counter[str] = Counter()
    thread_busy: Counter[str] = Counter()
    for sample, category in wall_busy:
        samples_by_category[category] += sample.count
        thread_busy[sample.thread] += sample.count
    loop_idle = sum(s.count for s in wall if s.thread == "event loop") - thread_busy["event loop"]
    held = sum(sample.count for sample, _ in gil_busy)

    # CPU: each thread's, shared by its GIL samples, else by its busy samples.
    weights: dict[int, list[tuple[Sample, str]]] = defaultdict(list)
    for sample, category in gil_busy:
        weights[sample.tid].append((sample, category))
    holders = set(weights)
    for sample, category in wall_busy:
        if sample.tid not in holders:  # never held the GIL when sampled
            weights[sample.tid].append((sample, category))
    cpu_by_category: dict[str, float] = defaultdict(float)
    origins: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    leaves: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    loop_origins: dict[str, float] = defaultdict(float)
    for tid, weighted in weights.items():
        total = sum(sample.count for sample, _ in weighted)
        for sample, category in weighted:
            share = cpu.get(tid, 0.0) * sample.count / total
            cpu_by_category[category] += share
            origins[category][origin(sample.frames)] += share
            leaves[category][str(sample.frames[-1]) if sample.frames else "(no frame)"] += share
            if sample.thread == "event loop":
                loop_origins[origin(sample.frames)] += share
    thread_cpu: dict[str, float] = defaultdict(float)
    for tid, used in cpu.items():
        thread_cpu[kind_of.get(tid, "other threads")] += used
    all_busy = sum(samples_by_category.values())

    def ranked(values: dict[str, float]) -> list[tuple[str, float]]:
        top = sorted(values.items(), key=lambda item: -item[1])[:8]
        return [(name, value * per_request) for name, value in top]

    names = [name for name, _ in CATEGORIES] + [LOOP, OTHER]
    return {
        "ticks": ticks,
        "busy_samples": all_busy,
        "event_loop_idle_share": loop_idle / ticks,
        "gil_held_share": held / ticks,
        # Threads that ended in the window, CPU of threads never sampled busy.
        "unattributed_cpu_ms_per_request": (process_cpu - sum(cpu_by_category.values()))
        * per_request,
        "categories": {
            name: {
                "busy_samples": samples_by_category[name],
                "share_of_busy_samples": samples_by_category[name] / all_busy if all_busy else 0,
                "cpu_ms_per_request": cpu_by_category[name] * per_request,
                "top_origins": ranked(origins[name]),
                "top_leaves": ranked(leaves[name]),
            }
            for name in names
        },
        "threads": {
            kind: {
                "cpu_ms_per_request": thread_cpu[kind] * per_request,
                "busy_ms_per_request": thread_busy[kind] * tick_ms,
            }
            for kind in sorted(thread_cpu)
        },
        "event_loop_cpu_by_origin": ranked(loop_origins),
    }
