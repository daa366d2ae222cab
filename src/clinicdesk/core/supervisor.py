"""Several server processes on one listening socket: a supervisor and its forked workers.

Why fork, and not uvicorn's own ``workers=N``: uvicorn spawns each worker as a new
interpreter that imports the whole application again (seconds each, all at once on a
machine with few cores, and long enough for uvicorn's 5 s health check to kill workers on
a busy one), and every worker holds its own copy of every module. Here the supervisor
has imported the application before it forks, like gunicorn's ``--preload``: a worker only
builds its app and starts, and the imported modules' memory is shared copy-on-write (the
garbage collector is told to leave those objects alone, so it does not write to them).

Rules:

* Nothing live crosses the fork. The supervisor imports, but never builds the application,
  opens a database connection, runs an event loop or keeps a thread (``clinicdesk serve``
  checks and migrates the database in a short-lived child first: ``run_in_child``); it
  refuses to fork while another thread runs. Each worker calls the application factory
  and runs its own event loop, so engines, pools and tasks are its own.
* A worker reports on a pipe once it serves. A worker that ends before that (its factory
  or its start-up failed, it was killed) stops the whole server: the supervisor stops the
  other workers and raises ``WorkerFailed`` with that worker's error. A server that cannot
  start says why and exits instead of running with nothing listening.
* A worker that dies after it was ready is replaced after a pause that doubles with each
  death within ``DEATH_WINDOW_SECONDS`` (0.5, 1, 2, 4, 8 s); one more death than
  ``MAX_DEATHS`` within that window raises ``WorkerFailed``: something is wrong that
  restarting does not fix.
* SIGTERM or SIGINT: the supervisor passes the signal to every worker, each stops as a
  single server does (open requests get the graceful period, then the application's
  shutdown), and the supervisor returns when all have ended, then re-raises the signal as
  uvicorn does. A worker still running after ``stop_timeout`` seconds is killed.
  Workers have their own process group, so Ctrl+C at a terminal reaches the supervisor
  only and each worker gets the signal once (uvicorn takes a second SIGINT as "stop now").
* A worker whose supervisor is gone (killed with SIGKILL) stops by itself, gracefully: it
  watches a pipe whose writing end only the supervisor holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final, NoReturn, cast

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = structlog.get_logger("clinicdesk.supervisor")

RESTART_DELAY_SECONDS: Final = 0.5
MAX_DEATHS: Final = 5
DEATH_WINDOW_SECONDS: Final = 60.0
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
_READY: Final = b"R"
_FAILED: Final = b"E"
_MESSAGE_LIMIT: Final = 2000


class WorkerFailed(Exception):
    """The server cannot run: a worker did not start, or kept dying. ``str()`` is the
    worker's error; ``exit_code`` what the command exits with."""

    exit_code = STARTUP_FAILURE


@dataclass
class _Worker:
    slot: int
    pid: int
    ready_fd: int
    ready: bool = False
    received: bytearray = field(default_factory=bytearray)

    def error(self) -> str:
        if self.received.startswith(_FAILED):
            return self.received[1:].decode("utf-8", "replace").strip()
        return ""


class _StartupErrors(logging.Handler):
    """Remembers the first error logged while a worker starts (uvicorn logs a failed
    application start-up, then exits), to pass it to the supervisor."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: str | None = None

    def remember(self, text: str) -> None:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if self.first is None and lines:
            self.first = lines[-1]  # a traceback's last line says what happened

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):  # a structlog event
            self.remember(str(record.msg.get("exception") or record.msg.get("event", "")))
        elif record.exc_info and record.exc_info[1] is not None:
            self.remember(_describe(record.exc_info[1]))
        else:
            self.remember(record.getMessage())


class _WorkerServer(uvicorn.Server):
    """uvicorn's server, telling the supervisor when it serves and stopping when the
    supervisor is gone."""

    def __init__(self, config: uvicorn.Config, *, on_ready: Callable[[], None], lifeline: int):
        super().__init__(config)
        self._on_ready = on_ready
        self._lifeline = lifeline

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            asyncio.get_running_loop().add_reader(self._lifeline, self._supervisor_gone)
            self._on_ready()

    def _supervisor_gone(self) -> None:
        asyncio.get_running_loop().remove_reader(self._lifeline)
        log.warning("supervisor.gone", pid=os.getpid())
        self.should_exit = True


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def _exit_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _no_other_threads(wait_seconds: float = 5.0) -> None:
    """Threads do not survive a fork (a lock one held stays locked in the child). The
    database checks before serving end theirs when their connections close; give them a
    moment, then refuse."""
    deadline = time.monotonic() + wait_seconds
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    running = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if running:
        raise RuntimeError(f"cannot fork worker processes while threads run: {running}")


class _Supervisor:
    def __init__(
        self, config: uvicorn.Config, sock: socket.socket, *, workers: int, stop_timeout: float
    ) -> None:
        self.config = config
        self.sock = sock
        self.count = workers
        self.stop_timeout = stop_timeout
        self.workers: dict[int, _Worker] = {}  # by pid
        self.restarts: dict[int, float] = {}  # slot -> when to start its replacement
        self.deaths: list[float] = []
        self.signals: list[int] = []
        self.signals_handled = 0
        self.stopping_since: float | None = None
        self.failure: WorkerFailed | None = None
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        # Children keep the reading end; at EOF (no supervisor left) they stop.
        self.lifeline_r, self.lifeline_w = os.pipe()

    # --- the supervisor -------------------------------------------------------------

    def run(self) -> None:
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        previous_wakeup = signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, self._on_signal)
        try:
            log.info("supervisor.started", pid=os.getpid(), workers=self.count)
            for slot in range(self.count):
                self._fork(slot)
            while self.workers or (self.restarts and self.stopping_since is None):
                self._step()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.selector.close()
            for fd in (self.wake_r, self.wake_w, self.lifeline_r, self.lifeline_w):
                os.close(fd)
        if self.failure is not None:
            raise self.failure
        log.info("supervisor.stopped")
        for received in reversed(self.signals):  # as uvicorn: end by the signal received
            signal.raise_signal(received)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if sig in STOP_SIGNALS:
            self.signals.append(sig)
        # Otherwise SIGCHLD: the wake-up pipe has done its work.

    def _step(self) -> None:
        now = time.monotonic()
        timeouts = [at - now for at in self.restarts.values()]
        if self.stopping_since is not None:
            timeouts.append(self.stopping_since + self.stop_timeout - now)
        timeout = max(0.0, min(timeouts)) if timeouts else None
        for key, _ in self.selector.select(timeout):
            if key.fd == self.wake_r:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_r, 512):
                        pass
            else:
                self._read_ready_pipe(key.data)
        self._reap()
        self._handle_signals()
        self._restart_due()
        now = time.monotonic()
        if self.stopping_since is not None and now >= self.stopping_since + self.stop_timeout:
            for pid in self.workers:
                log.error("worker.killed", pid=pid, after_seconds=self.stop_timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.stopping_since = now  # and wait for them to be reaped

    def _handle_signals(self) -> None:
        while self.signals_handled < len(self.signals):
            sig = self.signals[self.signals_handled]
            self.signals_handled += 1
            log.info("supervisor.stopping", signal=signal.Signals(sig).name)
            self._stop(sig)

    def _stop(self, sig: int = signal.SIGTERM) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        self.restarts.clear()
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = WorkerFailed(message)
        self._stop()

    def _read_ready_pipe(self, worker: _Worker) -> bool:
        """Read what the worker sent; False once nothing more is there for now."""
        try:
            data = os.read(worker.ready_fd, 4096)
        except BlockingIOError:
            return False
        if not data:  # the worker closed it: ready and done with it, or gone
            self._close_ready_pipe(worker)
            return False
        worker.received += data
        if worker.received.startswith(_READY) and not worker.ready:
            worker.ready = True
            log.info("worker.ready", pid=worker.pid, worker=worker.slot)
        return True

    def _close_ready_pipe(self, worker: _Worker) -> None:
        if worker.ready_fd >= 0:
            self.selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = -1

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            while worker.ready_fd >= 0 and self._read_ready_pipe(worker):
                pass  # what it wrote before it ended
            self._close_ready_pipe(worker)
            self._ended(worker, status)

    def _ended(self, worker: _Worker, status: int) -> None:
        how = _exit_status(status)
        if self.stopping_since is not None:
            log.info("worker.stopped", pid=worker.pid, worker=worker.slot, status=how)
            return
        if not worker.ready:
            error = worker.error() or "it ended without saying why"
            log.error("worker.failed_to_start", pid=worker.pid, status=how, error=error)
            self._fail(f"worker {worker.slot + 1} ended before it was ready ({how}): {error}")
            return
        now = time.monotonic()
        self.deaths = [t for t in self.deaths if now - t < DEATH_WINDOW_SECONDS] + [now]
        if len(self.deaths) > MAX_DEATHS:
            log.error("worker.died", pid=worker.pid, status=how, restarting=False)
            self._fail(
                f"workers died {len(self.deaths)} times within {DEATH_WINDOW_SECONDS:.0f} s, "
                f"the last one {how}"
            )
            return
        delay = RESTART_DELAY_SECONDS * 2 ** (len(self.deaths) - 1)
        log.error("worker.died", pid=worker.pid, status=how, restart_in_seconds=delay)
        self.restarts[worker.slot] = now + delay

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot, at in list(self.restarts.items()):
            if at <= now:
                del self.restarts[slot]
                self._fork(slot)

    def _fork(self, slot: int) -> None:
        _no_other_threads()
        # Everything imported so far is shared with the workers. A collection in a worker
        # would write to those objects' pages (so copy them) only to find nothing to free.
        gc.freeze()
        sys.stdout.flush()  # or what is buffered would be written again by the worker
        sys.stderr.flush()
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker (tests run it as a real process)
            os.close(ready_r)
            self._become_worker(ready_w)
        os.close(ready_w)
        os.set_blocking(ready_r, False)
        worker = _Worker(slot=slot, pid=pid, ready_fd=ready_r)
        self.workers[pid] = worker
        self.selector.register(ready_r, selectors.EVENT_READ, worker)
        log.info("worker.started", pid=pid, worker=slot)

    # --- a worker ---------------------------------------------------------------------

    def _become_worker(self, ready_w: int) -> NoReturn:  # pragma: no cover
        code = 1
        report = _Report(ready_w)
        try:
            os.setpgid(0, 0)
            signal.set_wakeup_fd(-1)
            # Until uvicorn takes over the stop signals, and after it hands them back.
            signal.signal(signal.SIGTERM, _exit_quietly)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # The supervisor's own descriptors are not the worker's business.
            for worker in self.workers.values():
                if worker.ready_fd >= 0:
                    os.close(worker.ready_fd)
            self.selector.close()
            for fd in (self.wake_r, self.wake_w, self.lifeline_w):
                os.close(fd)
            code = _serve_one(self.config, self.sock, report, lifeline=self.lifeline_r)
        except (SystemExit, KeyboardInterrupt):
            code = 0  # stopped before it started serving: the supervisor is stopping
        except BaseException as error:  # reported, then the process ends
            traceback.print_exc()
            report.failed(_describe(error))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _exit_quietly(sig: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class _Report:
    """A worker's end of its pipe to the supervisor: "ready", or why not; said once."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def ready(self) -> None:
        self._say(_READY)

    def failed(self, message: str) -> None:
        self._say(_FAILED + message.encode("utf-8", "replace")[:_MESSAGE_LIMIT])

    def _say(self, what: bytes) -> None:
        if self._fd is None:  # said already; the number may be another file's by now
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.write(fd, what)
        os.close(fd)


def _serve_one(
    config: uvicorn.Config, sock: socket.socket, report: _Report, *, lifeline: int
) -> int:
    """Run one worker's server until it stops; its exit code."""
    errors = _StartupErrors()
    factory = cast(Callable[[], Any], config.app)  # serve_workers checked it

    def build() -> Any:
        try:
            app = factory()
        except BaseException as error:  # uvicorn may log it and exit: keep it first
            errors.remember(_describe(error))
            raise
        # After the factory: it sets up logging afresh, which would drop this handler.
        logging.getLogger().addHandler(errors)
        return app

    def ready() -> None:
        logging.getLogger().removeHandler(errors)
        report.ready()

    config.app = build
    server = _WorkerServer(config, on_ready=ready, lifeline=lifeline)
    # uvicorn exits when the application's start-up fails; after serving, it raises the
    # stop signal again once it has shut down.
    with contextlib.suppress(SystemExit, KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        report.failed(errors.first or "the server did not start")
        return STARTUP_FAILURE
    return 0


def run_in_child(work: Callable[[], int]) -> int:
    """Run ``work`` in a forked child and return its exit code: for what the supervisor
    must not do itself before it forks the workers (module docstring). Its output goes
    where this process's goes; an exception is printed there and exits 1."""
    _no_other_threads()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (tests run it as a real process)
        code = 1
        try:
            code = work()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        except BaseException:  # printed, then the process ends
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve_workers(config: uvicorn.Config, *, workers: int, stop_timeout: float) -> None:
    """Serve ``config`` (whose app is an application factory) from ``workers`` forked
    processes until SIGTERM or SIGINT; raise ``WorkerFailed`` if the server cannot run.
    Call it with the application already imported and nothing running (module docstring)."""
    if not (config.factory and callable(config.app)):
        raise ValueError("serve_workers needs the application factory itself, not its name")
    sock = config.bind_socket()
    try:
        _Supervisor(config, sock, workers=workers, stop_timeout=stop_timeout).run()
    finally:
        sock.close()
