"""Throttling of login, password reset and MFA attempts, per account and per client address.

Counts live in Redis when ``CLINICDESK_REDIS_URL`` is set, so every worker process sees the
same attempts; without it they live in this process's memory (``_WindowsInProcess``). The
strategy is a moving window: a rule of ``5/15 minutes`` allows at most five attempts in any
fifteen-minute span, and a refused caller may try again as soon as its oldest attempt leaves
the window.

Rules:

- Key parts (an email, a client address) are case-folded, stripped and hashed (SHA-256)
  before they reach the storage: Redis holds no personal data.
- Storage failures are not hidden: they raise ``limits.errors.StorageError`` and the caller
  decides whether an unreachable Redis refuses or allows the attempt.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from clinicdesk.core.errors import ClinicError

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

KEY_PREFIX = "clinicdesk:ratelimit"
"""Every Redis key this module writes starts with this, so they are easy to find and purge."""

HASHED_PART_LENGTH = 32
"""Hex characters kept of each SHA-256 key part: 128 bits, far from any collision."""

REDIS_TIMEOUT_SECONDS = 5.0
"""A login must not hang on an unreachable Redis; it fails with a StorageError instead."""

# limits' async Redis storage only knows its own ``async+`` schemes; operators configure
# the plain URL every Redis client understands.
_REDIS_SCHEMES = {
    "redis": "async+redis",
    "rediss": "async+rediss",
    "unix": "async+redis+unix",
}


@dataclass(frozen=True)
class Rule:
    """A named limit in ``limits`` notation, e.g. ``Rule("login-account", "5/15 minutes")``.

    The name is part of the storage key, so two rules never share counts even when their
    limits are equal. The limit is parsed at construction: a typo fails at import time, not
    at the first login.
    """

    name: str
    limit: str
    item: RateLimitItem = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"rule name must be non-empty and contain no '/': {self.name!r}")
        object.__setattr__(self, "item", parse(self.limit))


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an attempt may go ahead; when refused, how many seconds until one may."""

    allowed: bool
    retry_after_seconds: int = 0


class RateLimited(ClinicError):
    """Raised when an attempt is refused. Rendered as 429 with a ``Retry-After`` header."""

    status_code = 429
    title = "Too many attempts"
    code = "rate-limited"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        seconds = max(1, retry_after_seconds)
        super().__init__(
            detail or f"Too many attempts. Try again in {describe_wait(seconds)}.",
            retry_after_seconds=seconds,
        )
        self.retry_after_seconds = seconds
        self.headers: dict[str, str] = {"Retry-After": str(seconds)}

    @classmethod
    def from_decision(cls, decision: Decision) -> RateLimited:
        return cls(decision.retry_after_seconds)


def describe_wait(seconds: int) -> str:
    """``45`` -> "45 seconds", ``61`` -> "2 minutes", ``3600`` -> "1 hour".

    Rounded up: telling someone to come back earlier than they may only earns them another
    refusal.
    """
    if seconds < 60:
        return _plural(max(1, seconds), "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    return _plural(math.ceil(seconds / 3600), "hour")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def hash_key_part(part: str) -> str:
    """The stored form of one key part: case and surrounding spaces do not make a new bucket
    (``Alice@X.org `` and ``alice@x.org`` share their failures), and the value is not
    readable from the storage."""
    normalized = part.strip().casefold().encode("utf-8")
    return hashlib.sha256(normalized).hexdigest()[:HASHED_PART_LENGTH]


class _WindowsInProcess:
    """Moving windows counted in this process's memory, for a server without Redis.

    Why not limits' own in-memory storage: every hit started a task that handed each key
    it holds to a worker thread in turn, to drop expired attempts. With one key per signed-in
    person, a request with 50 people signed in paid 50 thread hand-offs: 3.4 ms of CPU per
    request instead of 0.3 with one key (measured, 2026-12-05), and the threads competed
    for the interpreter with the requests. Here a key's old attempts are dropped when that
    key is used, and keys whose attempts have all left their window are swept at most once
    a minute, by the call that finds the sweep due: no task, no thread. Same rules as the
    Redis strategy: at most ``limit`` attempts in any ``window`` seconds, and a refused
    attempt is not recorded."""

    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._attempts: dict[tuple[str, ...], deque[float]] = {}
        self._windows: dict[tuple[str, ...], float] = {}
        self._next_sweep = 0.0

    def hit(self, key: tuple[str, ...], limit: int, window: float, *, record: bool) -> float:
        """0 if one more attempt is allowed (recorded when ``record``); else the seconds
        until the oldest attempt leaves the window."""
        now = self._clock()
        self._sweep_if_due(now)
        attempts = self._attempts.get(key)
        if attempts is not None:
            _drop_older(attempts, now - window)
        if attempts is not None and len(attempts) >= limit:
            return attempts[-limit] + window - now
        if record:
            if attempts is None:
                attempts = self._attempts[key] = deque()
                self._windows[key] = window
            attempts.append(now)
        return 0.0

    def clear(self, key: tuple[str, ...]) -> None:
        self._attempts.pop(key, None)
        self._windows.pop(key, None)

    async def decide(self, rule: Rule, key: tuple[str, ...], *, record: bool) -> Decision:
        wait = self.hit((rule.name, *key), rule.item.amount, rule.item.get_expiry(), record=record)
        return Decision(allowed=True) if wait <= 0 else _refused(wait)

    async def forget(self, rule: Rule, key: tuple[str, ...]) -> None:
        self.clear((rule.name, *key))

    async def close(self) -> None:
        """Nothing to release."""

    def _sweep_if_due(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_SECONDS
        for key, attempts in list(self._attempts.items()):
            _drop_older(attempts, now - self._windows[key])
            if not attempts:
                self.clear(key)


def _drop_older(attempts: deque[float], cutoff: float) -> None:
    while attempts and attempts[0] <= cutoff:
        attempts.popleft()


class _WindowsInRedis:
    """Moving windows in Redis through limits' strategy, shared by every process; the
    connection pool is this class's to release."""

    def __init__(self, storage: RedisStorage, pool: ConnectionPool) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._pool = pool

    async def decide(self, rule: Rule, key: tuple[str, ...], *, record: bool) -> Decision:
        attempt = self._strategy.hit if record else self._strategy.test
        if await attempt(rule.item, rule.name, *key):
            return Decision(allowed=True)
        stats = await self._strategy.get_window_stats(rule.item, rule.name, *key)
        return _refused(stats.reset_time - time.time())

    async def forget(self, rule: Rule, key: tuple[str, ...]) -> None:
        await self._strategy.clear(rule.item, rule.name, *key)

    async def close(self) -> None:
        await self._pool.aclose()


def _refused(wait_seconds: float) -> Decision:
    # Rounded up, at least 1: the oldest attempt may leave the window meanwhile, and "try
    # again in 0 seconds" would read as a bug.
    return Decision(allowed=False, retry_after_seconds=max(1, math.ceil(wait_seconds)))


class RateLimiter:
    """Records attempts against named rules. One instance per process; ``close()`` at exit."""

    def __init__(self, windows: _WindowsInProcess | _WindowsInRedis | None = None) -> None:
        """``windows`` None: counted in this process's memory."""
        self._windows = windows or _WindowsInProcess()

    @classmethod
    def from_url(cls, url: str | None) -> RateLimiter:
        """``None`` (or ``memory://``) counts in this process; ``redis://``, ``rediss://`` or
        ``unix://`` counts in Redis, shared by every process pointed at it."""
        if url is None or url.startswith(("memory://", "async+memory://")):
            return cls()
        plain = url.removeprefix("async+").replace("redis+unix://", "unix://", 1)
        scheme = plain.partition("://")[0]
        if scheme not in _REDIS_SCHEMES:
            raise ValueError(
                f"unsupported rate limit storage {scheme!r}: use redis://, rediss:// or unix://"
            )
        # redis-py only when Redis is configured: a server counting in memory never needs
        # it (about 10 MiB and a tenth of a second of start-up per process).
        from redis.asyncio import ConnectionPool

        # The pool is built from the plain URL (database, password and TLS included) and
        # handed to limits, so this class owns it and close() can release it. Passing it also
        # makes limits use redis-py's asyncio client: its default, coredis, is not installed.
        pool = ConnectionPool.from_url(
            plain,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        # Typed Any: limits declares its client options as scalars, but its redis-py bridge
        # accepts a ready connection pool.
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            _REDIS_SCHEMES[scheme] + plain[len(scheme) :],
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            **options,
        )
        return cls(_WindowsInRedis(storage, pool))

    async def hit(self, rule: Rule, *key_parts: str) -> Decision:
        """Record one attempt. A refused attempt is not recorded, so hammering a locked
        account does not push its window further out."""
        return await self._windows.decide(rule, _hashed(key_parts), record=True)

    async def test(self, rule: Rule, *key_parts: str) -> Decision:
        """Would one more attempt be allowed? Records nothing."""
        return await self._windows.decide(rule, _hashed(key_parts), record=False)

    async def clear(self, rule: Rule, *key_parts: str) -> None:
        """Forget the attempts of one key, e.g. an account's failures after it logs in."""
        await self._windows.forget(rule, _hashed(key_parts))

    async def close(self) -> None:
        """Release the Redis connections (counts in memory need nothing)."""
        await self._windows.close()


def _hashed(key_parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(hash_key_part(part) for part in key_parts)
