"""What the request throttle costs in one process without Redis, per request.

Every request to the server passes ``ThrottleMiddleware``: two hits, one on the client
address's rule and one on the caller's (one key per signed-in person). This drives the
same two hits in an asyncio loop, with a pause between requests (``--gap-ms``, so that
work the limiter leaves behind runs between them, as it does between real requests),
``--keys`` callers taking turns, and reports the process's CPU time per request:

* ``limits``: limits' own in-memory storage and moving-window strategy, as ClinicDesk
  used them until 2026-12-05 (each hit started a task that handed every key to a worker
  thread to expire old attempts);
* ``clinicdesk``: ``RateLimiter.from_url(None)``, the in-process windows used now.

Run: uv run python benchmarks/ratelimit.py [--requests 2000] [--gap-ms 5] [--keys 1,50]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from collections.abc import Awaitable, Callable

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from clinicdesk.core.ratelimit import RateLimiter, Rule

LIMIT = "100000/minute"  # never refuses: the cost of counting, not of refusing

Hit = Callable[[str, str], Awaitable[object]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def per_request(hit: Hit, *, requests: int, gap: float, keys: int) -> float:
    """CPU microseconds per request (two hits) after a warm-up; the process does nothing
    else, so its CPU time is the limiter's (and the loop's sleeps, the same for both)."""
    for n in range(100):
        await hit("address", "127.0.0.1")
        await hit("caller", f"token-{n % keys}")
    cpu = cpu_seconds()
    for n in range(requests):
        await hit("address", "127.0.0.1")
        await hit("caller", f"token-{n % keys}")
        await asyncio.sleep(gap)
    return (cpu_seconds() - cpu) / requests * 1e6


async def with_limits(requests: int, gap: float, keys: int) -> float:
    storage = MemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    item = parse(LIMIT)

    async def hit(rule: str, key: str) -> object:
        return await strategy.hit(item, rule, key)

    try:
        return await per_request(hit, requests=requests, gap=gap, keys=keys)
    finally:
        if storage.timer is not None:
            storage.timer.cancel()
            await asyncio.wait([storage.timer])


async def with_clinicdesk(requests: int, gap: float, keys: int) -> float:
    limiter = RateLimiter.from_url(None)
    rules = {name: Rule(name, LIMIT) for name in ("address", "caller")}

    async def hit(rule: str, key: str) -> object:
        return await limiter.hit(rules[rule], key)

    try:
        return await per_request(hit, requests=requests, gap=gap, keys=keys)
    finally:
        await limiter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    parser.add_argument("--keys", default="1,50", help="callers taking turns, comma-separated")
    args = parser.parse_args()
    gap = args.gap_ms / 1000
    print(f"{args.requests} requests of two hits, {args.gap_ms} ms apart; microseconds per request")
    print(f"{'storage':<12} {'callers':>7} {'CPU µs':>8}")
    for keys in (int(k) for k in args.keys.split(",")):
        for name, run in (("limits", with_limits), ("clinicdesk", with_clinicdesk)):
            cpu = asyncio.run(run(args.requests, gap, keys))
            print(f"{name:<12} {keys:>7} {cpu:>8.0f}")


if __name__ == "__main__":
    main()
