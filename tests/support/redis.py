"""A throwaway Redis server for the test session.

Started from the system's ``redis-server`` binary in a temporary directory, listening on a
free port on 127.0.0.1 with persistence off, removed afterwards.

A missing binary is an error, never a skip: CI must not pass without Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import free_port

STARTUP_TIMEOUT_SECONDS = 20.0


def find_redis_server() -> Path:
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if not found:
        raise RuntimeError(
            "redis-server was not found. Install Debian's redis-server package "
            "(apt-get install -y redis-server)."
        )
    return Path(found)


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server on 127.0.0.1:``port`` answers PING.

    A raw socket rather than redis-py, so starting the server needs no event loop.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class ThrowawayRedis:
    base_dir: Path
    binary: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.base_dir / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [
            str(self.binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.base_dir),
            # A throwaway server: nothing is written to disk.
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_file),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not ping(self.port):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}:\n{stderr}\n"
                    f"{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not answer PING on port {self.port} within "
                    f"{STARTUP_TIMEOUT_SECONDS:.0f} s\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            if self.process is not None and self.process.stderr is not None:
                self.process.stderr.close()
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_throwaway_redis() -> ThrowawayRedis:
    binary = find_redis_server()
    base_dir = Path(tempfile.mkdtemp(prefix="clinicdesk-redis-"))
    server = ThrowawayRedis(base_dir=base_dir, binary=binary, port=free_port())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
